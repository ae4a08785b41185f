# Generates smtpkit.pc from smtpkit.pc.in with the usage requirements of the
# CMake target: include directory, compile definitions and, when the mbedTLS
# adapter is built, the mbedTLS libraries.
#
# A static-only install puts mbedTLS in Libs, not Libs.private: a plain
# `pkg-config --libs smtpkit` must link, and libsmtpkit.a cannot link without
# it. A shared install puts it in Libs.private (needed only with --static).
# Where mbedTLS ships .pc files (3.x), Requires(.private) names them instead.

# Paths in the .pc are relative to the .pc file itself (${pcfiledir}), so the
# install can be moved or made with `cmake --install --prefix DIR`; absolute
# install directories are written as they are.
if(IS_ABSOLUTE "${SMTPKIT_INSTALL_PKGCONFIGDIR}")
  set(SMTPKIT_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _smtpkit_up "/p/${SMTPKIT_INSTALL_PKGCONFIGDIR}" "/p")
  string(REGEX REPLACE "/$" "" _smtpkit_up "${_smtpkit_up}")
  set(SMTPKIT_PC_PREFIX "\${pcfiledir}/${_smtpkit_up}")
endif()
foreach(_smtpkit_d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_smtpkit_d}}")
    set(SMTPKIT_PC_${_smtpkit_d} "${CMAKE_INSTALL_${_smtpkit_d}}")
  else()
    set(SMTPKIT_PC_${_smtpkit_d} "\${prefix}/${CMAKE_INSTALL_${_smtpkit_d}}")
  endif()
endforeach()

set(SMTPKIT_PC_CFLAGS "")
if(NOT BUILD_SHARED_LIBS)
  string(APPEND SMTPKIT_PC_CFLAGS " -DSMTPKIT_STATIC")
endif()
if(SMTPKIT_WITH_POSIX)
  string(APPEND SMTPKIT_PC_CFLAGS " -DSMTPKIT_HAVE_POSIX=1")
endif()
if(SMTPKIT_WITH_MBEDTLS)
  string(APPEND SMTPKIT_PC_CFLAGS " -DSMTPKIT_HAVE_MBEDTLS=1")
endif()

set(SMTPKIT_PC_REQUIRES "")
set(SMTPKIT_PC_LIBS "")
set(SMTPKIT_PC_LIBS_PRIVATE "")
if(SMTPKIT_WITH_MBEDTLS)
  set(_smtpkit_mbedtls_pc FALSE)
  find_program(SMTPKIT_PKG_CONFIG_EXECUTABLE NAMES pkgconf pkg-config)
  mark_as_advanced(SMTPKIT_PKG_CONFIG_EXECUTABLE)
  if(SMTPKIT_PKG_CONFIG_EXECUTABLE)
    execute_process(COMMAND ${SMTPKIT_PKG_CONFIG_EXECUTABLE} --exists mbedtls mbedx509 mbedcrypto
      RESULT_VARIABLE _smtpkit_rc OUTPUT_QUIET ERROR_QUIET)
    if(_smtpkit_rc EQUAL 0)
      set(_smtpkit_mbedtls_pc TRUE)
    endif()
  endif()
  if(_smtpkit_mbedtls_pc)
    if(BUILD_SHARED_LIBS)
      set(SMTPKIT_PC_REQUIRES "Requires.private: mbedtls mbedx509 mbedcrypto")
    else()
      set(SMTPKIT_PC_REQUIRES "Requires: mbedtls mbedx509 mbedcrypto")
    endif()
  else()
    set(_smtpkit_flags "")
    # A -L for libraries outside the linker's default directories.
    foreach(_smtpkit_lib ${SMTPKIT_MBEDTLS_LIBRARY} ${SMTPKIT_MBEDX509_LIBRARY}
                         ${SMTPKIT_MBEDCRYPTO_LIBRARY})
      get_filename_component(_smtpkit_dir "${_smtpkit_lib}" DIRECTORY)
      if(_smtpkit_dir AND NOT _smtpkit_dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES
         AND NOT " ${_smtpkit_flags} " MATCHES " -L${_smtpkit_dir} ")
        string(APPEND _smtpkit_flags " -L${_smtpkit_dir}")
      endif()
    endforeach()
    string(APPEND _smtpkit_flags " -lmbedtls -lmbedx509 -lmbedcrypto")
    if(BUILD_SHARED_LIBS)
      set(SMTPKIT_PC_LIBS_PRIVATE "${_smtpkit_flags}")
    else()
      set(SMTPKIT_PC_LIBS "${_smtpkit_flags}")
    endif()
  endif()
endif()

# Optional lines (Requires, Requires.private, Libs.private), each ending in a newline.
set(SMTPKIT_PC_EXTRA "")
if(SMTPKIT_PC_REQUIRES)
  string(APPEND SMTPKIT_PC_EXTRA "${SMTPKIT_PC_REQUIRES}\n")
endif()
if(SMTPKIT_PC_LIBS_PRIVATE)
  string(APPEND SMTPKIT_PC_EXTRA "Libs.private:${SMTPKIT_PC_LIBS_PRIVATE}\n")
endif()

configure_file(${PROJECT_SOURCE_DIR}/cmake/smtpkit.pc.in ${PROJECT_BINARY_DIR}/smtpkit.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/smtpkit.pc DESTINATION ${SMTPKIT_INSTALL_PKGCONFIGDIR}
  COMPONENT smtpkit_development)
