# One compile-fail test (tests/compile_fail/CMakeLists.txt):
#   cmake -DCXX=<compiler> -DFLAGS=<file, one flag a line> -DIMPLICIT=<dirs> -DSOURCE=<case.cpp>
#         -P check.cmake
# Passes when SOURCE does not compile and the output holds the text of its first line,
# `// expect: <text>`; fails otherwise, saying which of the two went wrong.
cmake_minimum_required(VERSION 3.25)
file(STRINGS ${SOURCE} first LIMIT_COUNT 1)
if(NOT first MATCHES "^// expect: (.+)$")
  message(FATAL_ERROR "${SOURCE}: the first line must be `// expect: <text the compiler "
                      "output must contain>`; it is: '${first}'")
endif()
string(STRIP "${CMAKE_MATCH_1}" expect)
# file(STRINGS) gives a list: a ';' of the line comes back as "\;".
string(REPLACE "\\;" ";" expect "${expect}")

# The compiler's own include directories (/usr/include...) must not come back as -I: that
# breaks libstdc++'s #include_next.
file(STRINGS ${FLAGS} lines)
set(flags)
foreach(flag IN LISTS lines)
  string(REGEX REPLACE "^-I" "" dir "${flag}")
  if(NOT dir STREQUAL flag AND dir IN_LIST IMPLICIT)
    continue()
  endif()
  list(APPEND flags "${flag}")
endforeach()

execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only -fdiagnostics-color=never ${flags} ${SOURCE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it is a compile-fail case: it must not compile "
                      "(expected an error containing '${expect}')")
endif()
string(FIND "${out}" "${expect}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${SOURCE} failed to compile, but the output does not contain "
                      "'${expect}'. The compiler said:\n${out}")
endif()
message(STATUS "${SOURCE}: fails to compile with '${expect}'")
