# Run by CPack (CPACK_PRE_BUILD_SCRIPTS, cmake/package.cmake) on the staged package: strips the
# binary as Debian's dh_strip does. CPACK_STRIP_FILES only drops the symbols; this also drops the
# .comment and .note sections (compiler versions), which lintian reports.
file(GLOB_RECURSE binaries "${CPACK_TEMPORARY_DIRECTORY}/*/usr/bin/priava-tokend")
if(NOT binaries)
    message(FATAL_ERROR "deb-strip: no usr/bin/priava-tokend below ${CPACK_TEMPORARY_DIRECTORY}")
endif()
foreach(binary IN LISTS binaries)
    execute_process(
        COMMAND "${CPACK_PRIAVA_TOKEND_STRIP}" --remove-section=.comment --remove-section=.note
                --strip-unneeded "${binary}"
        COMMAND_ERROR_IS_FATAL ANY)
endforeach()
