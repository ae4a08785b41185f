# Install rules (SMTPKIT_INSTALL, on by default only when smtpkit is the
# top-level project): headers, the library, a CMake package
# (find_package(smtpkit CONFIG) -> smtpkit::smtpkit) and smtpkit.pc.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SMTPKIT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/smtpkit
  CACHE STRING "Where smtpkitConfig.cmake is installed (relative to the prefix)")
set(SMTPKIT_INSTALL_PKGCONFIGDIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig
  CACHE STRING "Where smtpkit.pc is installed (relative to the prefix)")
mark_as_advanced(SMTPKIT_INSTALL_CMAKEDIR SMTPKIT_INSTALL_PKGCONFIGDIR)

install(TARGETS smtpkit EXPORT smtpkitTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT smtpkit_development
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT smtpkit_runtime
          NAMELINK_COMPONENT smtpkit_development
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT smtpkit_runtime)

# Headers of adapters that were not built are left out, so that a program
# using one fails at compile time rather than at link time.
set(_smtpkit_header_excludes)
if(NOT SMTPKIT_WITH_POSIX)
  list(APPEND _smtpkit_header_excludes PATTERN "posix*.h" EXCLUDE)
endif()
if(NOT SMTPKIT_WITH_MBEDTLS)
  list(APPEND _smtpkit_header_excludes PATTERN tls.h EXCLUDE PATTERN mbedtls.h EXCLUDE)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/smtpkit
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT smtpkit_development
  FILES_MATCHING PATTERN "*.h" ${_smtpkit_header_excludes})

install(EXPORT smtpkitTargets NAMESPACE smtpkit:: DESTINATION ${SMTPKIT_INSTALL_CMAKEDIR}
  COMPONENT smtpkit_development)

# What the package config must recreate for consumers (see smtpkitConfig.cmake.in).
if(BUILD_SHARED_LIBS)
  set(SMTPKIT_CONFIG_SHARED ON)
else()
  set(SMTPKIT_CONFIG_SHARED OFF)
endif()
set(SMTPKIT_CONFIG_MBEDTLS_HINTS "")
if(SMTPKIT_WITH_MBEDTLS AND SMTPKIT_MBEDTLS_LIBRARY)
  get_filename_component(SMTPKIT_CONFIG_MBEDTLS_HINTS "${SMTPKIT_MBEDTLS_LIBRARY}" DIRECTORY)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/smtpkitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/smtpkitConfig.cmake
  INSTALL_DESTINATION ${SMTPKIT_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/smtpkitConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${SMTPKIT_COMPATIBILITY})
set(_smtpkit_config_files ${PROJECT_BINARY_DIR}/smtpkitConfig.cmake
  ${PROJECT_BINARY_DIR}/smtpkitConfigVersion.cmake)
if(SMTPKIT_WITH_MBEDTLS AND NOT BUILD_SHARED_LIBS)
  list(APPEND _smtpkit_config_files ${PROJECT_SOURCE_DIR}/cmake/SmtpkitMbedTLS.cmake)
endif()
install(FILES ${_smtpkit_config_files} DESTINATION ${SMTPKIT_INSTALL_CMAKEDIR}
  COMPONENT smtpkit_development)

# pkg-config. The .pc file is relocatable (prefix from pcfiledir) and carries
# the same usage requirements as the CMake target.
include(${PROJECT_SOURCE_DIR}/cmake/SmtpkitPkgConfig.cmake)

# The command-line tools and their manual pages, when they were built.
foreach(_smtpkit_tool smtpkit-send smtpkit-recv)
  if(TARGET ${_smtpkit_tool})
    install(TARGETS ${_smtpkit_tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
      COMPONENT smtpkit_tools)
    foreach(_smtpkit_man ${PROJECT_SOURCE_DIR}/docs/man/${_smtpkit_tool}.1
                         ${PROJECT_SOURCE_DIR}/docs/${_smtpkit_tool}.1)
      if(EXISTS ${_smtpkit_man})
        install(FILES ${_smtpkit_man} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
          COMPONENT smtpkit_tools)
      endif()
    endforeach()
  endif()
endforeach()

install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR}
  COMPONENT smtpkit_development)
