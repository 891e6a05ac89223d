# The Debian package of the service (docs/deployment.md): `cpack -G DEB` in a
# release build tree, or tools/package. It holds the `runtime` component:
# the executables in /usr/bin, the systemd unit, the example configuration
# in /etc/ordergate (a conffile) and the operator documentation; the
# maintainer scripts create the `ordergate` user and group and set owners
# and modes. Libraries, headers and the CMake package stay out of it.

set(ordergate_packaging_dir ${PROJECT_SOURCE_DIR}/packaging)

# /etc and /lib/systemd/system are absolute: only the package's component
# install (CPack) writes them, never a plain `cmake --install` (the install
# test installs into a build directory as root).
install(FILES ${ordergate_packaging_dir}/ordergate.service
  DESTINATION /lib/systemd/system PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
  COMPONENT runtime EXCLUDE_FROM_ALL)
install(FILES ${ordergate_packaging_dir}/ordergate.toml
  DESTINATION /etc/ordergate PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
  COMPONENT runtime EXCLUDE_FROM_ALL)

set(ordergate_doc_dir ${CMAKE_INSTALL_DATAROOTDIR}/doc/ordergate)
install(FILES
  ${PROJECT_SOURCE_DIR}/docs/deployment.md
  ${PROJECT_SOURCE_DIR}/docs/configuration.md
  ${PROJECT_SOURCE_DIR}/docs/secrets.md
  ${PROJECT_SOURCE_DIR}/docs/security.md
  ${PROJECT_SOURCE_DIR}/docs/brokers.md
  ${PROJECT_SOURCE_DIR}/docs/protocol.md
  ${ordergate_packaging_dir}/copyright
  DESTINATION ${ordergate_doc_dir} COMPONENT runtime)
file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/packaging)
find_program(ORDERGATE_GZIP gzip)
if(ORDERGATE_GZIP)
  # Debian wants the changelog compressed, reproducibly (-n: no name, no time).
  execute_process(COMMAND ${ORDERGATE_GZIP} -9nc ${ordergate_packaging_dir}/changelog
    OUTPUT_FILE ${PROJECT_BINARY_DIR}/packaging/changelog.gz RESULT_VARIABLE ordergate_gzip_result)
  install(FILES ${PROJECT_BINARY_DIR}/packaging/changelog.gz DESTINATION ${ordergate_doc_dir} COMPONENT runtime)
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${ordergate_packaging_dir}/changelog)
install(FILES ${ordergate_packaging_dir}/lintian-overrides
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides RENAME ordergate COMPONENT runtime)

# Maintainer scripts with the mode dpkg wants.
foreach(script postinst postrm)
  configure_file(${ordergate_packaging_dir}/${script} ${PROJECT_BINARY_DIR}/packaging/${script}
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE
    COPYONLY)
endforeach()
configure_file(${ordergate_packaging_dir}/conffiles ${PROJECT_BINARY_DIR}/packaging/conffiles COPYONLY)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ordergate)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "the ordergate developers")
set(CPACK_PACKAGE_CONTACT "ordergate developers <developers@ordergate.dev>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "low-latency order gateway with pre-trade guards")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"ordergate sits between trading strategies and broker APIs. Every order
passes its guards (validation, permissions, kill switch, risk and rate
limits), is written to a hash-chained audit journal and is forwarded over
TLS to the broker. This package runs it as a hardened systemd service on
a local Unix socket.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# DESTDIR staging: the install rules see CMAKE_INSTALL_PREFIX=/usr and put
# /etc and /lib/systemd/system where they belong.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_CMAKE_PROJECTS "${PROJECT_BINARY_DIR};ordergate;runtime;/")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_BINARY_DIR}/packaging/postinst
  ${PROJECT_BINARY_DIR}/packaging/postrm
  ${PROJECT_BINARY_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
