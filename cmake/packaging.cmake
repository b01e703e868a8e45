# Install rules and the Debian package (CPack):
#   cmake --build build --target package  ->  build/castor_<version>_amd64.deb
# /usr/bin/castor and castor-cli, /etc/castor/castor.yaml (a conffile), the
# systemd unit, the documentation and the example configurations. Runtime
# dependencies are computed by dpkg-shlibdeps.

include(GNUInstallDirs)

install(TARGETS castor RUNTIME DESTINATION bin)
if(TARGET castor-cli)
  install(TARGETS castor-cli RUNTIME DESTINATION bin)
endif()
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/config/castor.yaml
        DESTINATION /etc/castor)
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/config/castor.service
        DESTINATION /lib/systemd/system)
install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/docs/
        DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/config/examples/
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/config/prometheus/
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/prometheus OPTIONAL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME castor)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "Castor maintainers <castor@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "MQTT 5.0/3.1.1 broker and event-data platform on the C++ Actor Framework")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_SOURCE_DIR}/packaging/conffiles
    ${CMAKE_CURRENT_SOURCE_DIR}/packaging/postinst
    ${CMAKE_CURRENT_SOURCE_DIR}/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
