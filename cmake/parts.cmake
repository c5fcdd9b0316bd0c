# The parts of priava-tokend, each a static library with its own folder under src/ and
# include/priava_tokend/. A part sees only its own headers and those of the parts it links: each
# gets an include root of its own (build/part-include/<part>, holding a link to its header folder),
# so `#include <priava_tokend/keeper/...>` from a part below keeper does not compile, and the
# dependency direction is the build's, not a convention. tests/layout checks that it stays so.
#
#   priava_tokend_part(<part> SOURCES <files...> LINKS <parts and libraries below it...>)
#
# makes the target priava_tokend_<part>.
function(priava_tokend_part part)
    cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;LINKS")
    set(target priava_tokend_${part})
    add_library(${target} STATIC ${arg_SOURCES})
    set(root "${PROJECT_BINARY_DIR}/part-include/${part}")
    file(MAKE_DIRECTORY "${root}/priava_tokend")
    file(CREATE_LINK "${PROJECT_SOURCE_DIR}/include/priava_tokend/${part}"
         "${root}/priava_tokend/${part}" SYMBOLIC)
    target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${root}>)
    target_link_libraries(${target} PUBLIC priava_tokend_options ${arg_LINKS})
    if(PRIAVA_TOKEND_PCH AND NOT part STREQUAL "core")
        target_precompile_headers(${target} REUSE_FROM priava_tokend_core)
    endif()
endfunction()
