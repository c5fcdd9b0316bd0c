# Install rules (GNUInstallDirs): the binary, the systemd units, the sysusers.d entry for the
# socket group, the example config and the manual page.
#
#   cmake -S . -B build -DCMAKE_INSTALL_PREFIX=/usr && cmake --build build
#   sudo cmake --install build
#
# gives /usr/bin/priava-tokend, /usr/lib/systemd/system/priava-tokend{,@}.{service,socket},
# /usr/lib/sysusers.d/priava-tokend.conf, /etc/priava-tokend/priava-tokend.toml and
# /usr/share/man/man8/priava-tokend.8.gz. The unit
# files name the binary and the config directory of the configured prefix, so another prefix
# (/usr/local: /usr/local/bin, /usr/local/etc) works too; `cmake --install --prefix` only moves the
# files. Packagers use DESTDIR.

set(PRIAVA_TOKEND_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where the systemd units go; relative to the install prefix unless absolute")
set(PRIAVA_TOKEND_SYSUSERS_DIR "lib/sysusers.d" CACHE STRING
    "Where the sysusers.d entry goes; relative to the install prefix unless absolute")

install(TARGETS priava-tokend RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# GNUInstallDirs puts sysconfdir at /etc (not /usr/etc) for the /usr and / prefixes; elsewhere it
# stays relative, so that `cmake --install --prefix` moves it with everything else.
if(IS_ABSOLUTE "${CMAKE_INSTALL_SYSCONFDIR}" OR CMAKE_INSTALL_FULL_SYSCONFDIR STREQUAL "/etc")
    set(priava_tokend_config_dir "${CMAKE_INSTALL_FULL_SYSCONFDIR}/priava-tokend")
else()
    set(priava_tokend_config_dir "${CMAKE_INSTALL_SYSCONFDIR}/priava-tokend")
endif()

# systemd/*.service and *.socket are written for the /usr prefix and work as they are; the copies
# installed name the configured bindir and sysconfdir instead.
set(priava_tokend_units
    priava-tokend.service
    priava-tokend.socket
    priava-tokend@.service
    priava-tokend@.socket)
foreach(unit IN LISTS priava_tokend_units)
    set(source "${PROJECT_SOURCE_DIR}/systemd/${unit}")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${source}")
    file(READ "${source}" text)
    string(REPLACE "/usr/bin/priava-tokend" "${CMAKE_INSTALL_FULL_BINDIR}/priava-tokend"
           text "${text}")
    string(REPLACE "/etc/priava-tokend/" "${CMAKE_INSTALL_FULL_SYSCONFDIR}/priava-tokend/"
           text "${text}")
    file(GENERATE OUTPUT "${PROJECT_BINARY_DIR}/systemd/${unit}" CONTENT "${text}")
    install(FILES "${PROJECT_BINARY_DIR}/systemd/${unit}"
            DESTINATION "${PRIAVA_TOKEND_SYSTEMD_UNIT_DIR}")
endforeach()

# priava-tokend(8), gzipped with -9n as Debian wants it (no name or time stamp inside).
find_program(PRIAVA_TOKEND_GZIP gzip REQUIRED)
add_custom_command(
    OUTPUT "${PROJECT_BINARY_DIR}/man/priava-tokend.8.gz"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${PROJECT_BINARY_DIR}/man"
    COMMAND "${PRIAVA_TOKEND_GZIP}" -9n -c "${PROJECT_SOURCE_DIR}/docs/priava-tokend.8"
            > "${PROJECT_BINARY_DIR}/man/priava-tokend.8.gz"
    DEPENDS "${PROJECT_SOURCE_DIR}/docs/priava-tokend.8"
    VERBATIM)
add_custom_target(priava_tokend_man ALL DEPENDS "${PROJECT_BINARY_DIR}/man/priava-tokend.8.gz")
install(FILES "${PROJECT_BINARY_DIR}/man/priava-tokend.8.gz"
        DESTINATION "${CMAKE_INSTALL_MANDIR}/man8"
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

install(FILES systemd/priava-tokend.sysusers
        DESTINATION "${PRIAVA_TOKEND_SYSUSERS_DIR}"
        RENAME priava-tokend.conf)

# The config holds no secret and must be readable by the daemon's dynamic user, whatever the
# umask of the checkout was.
set(priava_tokend_config_permissions OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# The pristine example, to start each template instance's config from.
install(FILES conf/priava-tokend.toml DESTINATION "${CMAKE_INSTALL_DOCDIR}"
        PERMISSIONS ${priava_tokend_config_permissions})

# The config in sysconfdir is installed only where none exists yet: a reinstall must not replace
# the operator's client_id and paths with the example's.
install(CODE "
    set(config_dir \"${priava_tokend_config_dir}\")
    if(NOT IS_ABSOLUTE \"\${config_dir}\")
        set(config_dir \"\${CMAKE_INSTALL_PREFIX}/\${config_dir}\")
    endif()
    if(EXISTS \"\$ENV{DESTDIR}\${config_dir}/priava-tokend.toml\")
        message(STATUS \"Keeping: \$ENV{DESTDIR}\${config_dir}/priava-tokend.toml\")
    else()
        file(INSTALL DESTINATION \"\${config_dir}\" TYPE FILE
             PERMISSIONS ${priava_tokend_config_permissions}
             FILES \"${PROJECT_SOURCE_DIR}/conf/priava-tokend.toml\")
    endif()
")
