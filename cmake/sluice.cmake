# Helpers so that every module and test is declared the same way.
#
#   sluice_library(core SOURCES message.cc ... DEPS Boost::json)
#     -> static library sluice_core, includes rooted at src/, sharing one
#        precompiled header with every other module.
#   sluice_test(core_test SOURCES message_test.cc DEPS sluice_core [LABELS unit])
#     -> a GoogleTest executable registered with CTest.

add_library(sluice_pch OBJECT ${PROJECT_SOURCE_DIR}/src/pch.cc)
target_include_directories(sluice_pch PUBLIC ${PROJECT_SOURCE_DIR}/src)
# Every target links the same Boost components so its defines match the PCH.
add_library(sluice_asio STATIC ${PROJECT_SOURCE_DIR}/src/asio_impl.cc)
target_link_libraries(sluice_asio PUBLIC Boost::json Boost::url OpenSSL::SSL OpenSSL::Crypto Threads::Threads)
set(SLUICE_COMMON_DEPS sluice_asio Boost::json Boost::url Threads::Threads)
target_link_libraries(sluice_pch PUBLIC ${SLUICE_COMMON_DEPS})
target_precompile_headers(sluice_pch PRIVATE ${PROJECT_SOURCE_DIR}/src/pch.h)
# Tests get their own, with GoogleTest in it (src/testing/test_pch.h).
add_library(sluice_test_pch OBJECT ${PROJECT_SOURCE_DIR}/src/testing/test_pch.cc)
target_include_directories(sluice_test_pch PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(sluice_test_pch PUBLIC ${SLUICE_COMMON_DEPS} fmt::fmt GTest::gtest GTest::gmock)
target_precompile_headers(sluice_test_pch PRIVATE ${PROJECT_SOURCE_DIR}/src/testing/test_pch.h)

function(sluice_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(sluice_${name} STATIC ${ARG_SOURCES})
  target_include_directories(sluice_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(sluice_${name} PUBLIC ${ARG_DEPS} ${SLUICE_COMMON_DEPS})
  target_precompile_headers(sluice_${name} REUSE_FROM sluice_pch)
endfunction()

function(sluice_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} ${SLUICE_COMMON_DEPS} fmt::fmt GTest::gtest GTest::gmock GTest::gtest_main)
  target_precompile_headers(${name} REUSE_FROM sluice_test_pch)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_test(NAME ${name} COMMAND ${name} --gtest_brief=1)
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 300)
endfunction()

# Links jemalloc into an executable when SLUICE_JEMALLOC is on.
function(sluice_use_jemalloc target)
  if(SLUICE_JEMALLOC)
    target_link_libraries(${target} PRIVATE ${JEMALLOC_LIBRARY})
  endif()
endfunction()
