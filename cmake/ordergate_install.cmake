include(CMakePackageConfigHelpers)

set(ordergate_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/ordergate)
install(EXPORT ordergate_targets
  NAMESPACE ordergate::
  FILE ordergateTargets.cmake
  DESTINATION ${ordergate_cmake_dir})
configure_package_config_file(cmake/ordergateConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/ordergateConfig.cmake
  INSTALL_DESTINATION ${ordergate_cmake_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/ordergateConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/ordergateConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/ordergateConfigVersion.cmake
  DESTINATION ${ordergate_cmake_dir})
