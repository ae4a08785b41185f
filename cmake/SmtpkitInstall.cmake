include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS smtpkit EXPORT smtpkitTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/smtpkit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT smtpkitTargets NAMESPACE smtpkit:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/smtpkit)
configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/smtpkitConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/smtpkitConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/smtpkit)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/smtpkitConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/smtpkitConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/smtpkitConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/smtpkit)
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/smtpkit.pc.in ${CMAKE_CURRENT_BINARY_DIR}/smtpkit.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/smtpkit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
