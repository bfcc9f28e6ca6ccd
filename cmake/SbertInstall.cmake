# cmake --install: headers, the library and a package config for find_package(sbert).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
install(TARGETS sbert EXPORT sbertTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/libsbert/include/sbert
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT sbertTargets NAMESPACE sbert:: FILE sbertTargets.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/sbert)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/sbertConfig.cmake.in
  ${CMAKE_BINARY_DIR}/sbertConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/sbert)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/sbertConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/sbertConfig.cmake ${CMAKE_BINARY_DIR}/sbertConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/sbert)
