# The Debian package, made by CPack from the install rules (cmake/install.cmake) and the files of
# packaging/: scripts/package runs
#
#   cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPRIAVA_TOKEND_TESTS=OFF \
#         -DCMAKE_INSTALL_PREFIX=/usr -DPRIAVA_TOKEND_SYSTEMD_UNIT_DIR=/lib/systemd/system
#   cd build-pkg && cpack -G DEB
#
# and gets priava-tokend_<version>_<arch>.deb: the stripped binary, the units, the sysusers.d
# entry, the example config as the conffile /etc/priava-tokend/priava-tokend.toml, the manual
# page, the copyright file and the changelog. Its Depends come from dpkg-shlibdeps, plus systemd
# for the units and systemd-sysusers, and procps for /bin/kill (ExecReload=). No tmpfiles.d
# entry: the socket units make /run/priava-tokend, and StateDirectory= the state directory.

set(PRIAVA_TOKEND_MAINTAINER "priava-tokend developers <priava-tokend@example.org>" CACHE STRING
    "The Maintainer of the Debian package")

# The changelog's latest entry must be this version: dpkg and lintian read the version there.
file(STRINGS "${PROJECT_SOURCE_DIR}/packaging/changelog" priava_tokend_changelog_head
     LIMIT_COUNT 1)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             "${PROJECT_SOURCE_DIR}/packaging/changelog")
if(NOT priava_tokend_changelog_head MATCHES "^priava-tokend \\(${PROJECT_VERSION}\\) ")
    message(FATAL_ERROR "packaging/changelog: the latest entry is not for version "
                        "${PROJECT_VERSION} (project() in CMakeLists.txt): "
                        "${priava_tokend_changelog_head}")
endif()

# Debian wants the changelog compressed with gzip -9n, like the manual page (install.cmake).
add_custom_command(
    OUTPUT "${PROJECT_BINARY_DIR}/packaging/changelog.gz"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${PROJECT_BINARY_DIR}/packaging"
    COMMAND "${PRIAVA_TOKEND_GZIP}" -9n -c "${PROJECT_SOURCE_DIR}/packaging/changelog"
            > "${PROJECT_BINARY_DIR}/packaging/changelog.gz"
    DEPENDS "${PROJECT_SOURCE_DIR}/packaging/changelog"
    VERBATIM)
add_custom_target(priava_tokend_changelog ALL
                  DEPENDS "${PROJECT_BINARY_DIR}/packaging/changelog.gz")

# The copyright file and the changelog belong to the package: a plain `cmake --install` leaves
# them out (component deb, installed by CPack only).
install(FILES packaging/copyright "${PROJECT_BINARY_DIR}/packaging/changelog.gz"
        DESTINATION "${CMAKE_INSTALL_DOCDIR}"
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
        COMPONENT deb EXCLUDE_FROM_ALL)

# dpkg keeps an edited config across upgrades (and asks about it) only when it is a conffile.
file(GENERATE OUTPUT "${PROJECT_BINARY_DIR}/packaging/conffiles"
     CONTENT "${CMAKE_INSTALL_FULL_SYSCONFDIR}/priava-tokend/priava-tokend.toml\n")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME priava-tokend)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "${PRIAVA_TOKEND_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_PACKAGE_DIRECTORY "${PROJECT_BINARY_DIR}/dist")
set(CPACK_STRIP_FILES ON)
set(CPACK_PRE_BUILD_SCRIPTS "${PROJECT_SOURCE_DIR}/cmake/deb-strip.cmake")
set(CPACK_PRIAVA_TOKEND_STRIP "${CMAKE_STRIP}")
# Directories as Debian has them whatever the umask of the build.
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
# The default components and the package-only one; one package all the same.
set(CPACK_COMPONENTS_ALL Unspecified deb)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS OFF)
set(CPACK_DEBIAN_PACKAGE_NAME priava-tokend)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # priava-tokend_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# LoadCredential= and ProtectProc= came with systemd 247; the units' ExecReload= is procps'
# /bin/kill, which a minimal Debian lacks.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd (>= 247), procps")
# CPack puts the summary on the Description line and this below it.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Priava OAuth2 token broker daemon")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION [[priava-tokend owns one Priava OAuth2 credential: it keeps the access token
fresh, writes every new refresh token durably before using it, and hands
the current token to local processes over HTTP on a Unix socket. Every
Priava refresh consumes the previous refresh token, so exactly one process
may refresh a credential; this daemon is that process.
.
The package ships systemd units for one credential (priava-tokend.service
and .socket) and templates for one instance per credential, with socket
activation, readiness and watchdog notification, LoadCredential= for the
client secret and a dynamic user in a tight sandbox. Members of the group
priava may fetch tokens. Nothing is enabled or started on installation.]])
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/packaging/postinst"
    "${PROJECT_SOURCE_DIR}/packaging/prerm"
    "${PROJECT_SOURCE_DIR}/packaging/postrm"
    "${PROJECT_BINARY_DIR}/packaging/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
