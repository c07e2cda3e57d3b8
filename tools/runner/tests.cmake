# ctest: the shipped lessons (verify --all) and the runner's own commands.
# Included from tools/runner/CMakeLists.txt when tests are built.

# Every lesson: broken gives exactly its findings, fixed none of its forbidden ones and its
# expected lines, each within its time limit. --no-build: ctest must not run a build in a tree
# that someone may be building; the lesson programs are part of the default build. Under the
# asan preset the runner skips lessons marked `asan = false` in lessons.toml (the stack
# overflow lesson: AddressSanitizer owns SIGSEGV and its frames overflow first) and says so.
add_test(NAME "lessons: verify --all (every broken shows its findings, every fix is clean)"
         COMMAND aio_lessons_runner --no-build verify --all)
set_tests_properties("lessons: verify --all (every broken shows its findings, every fix is clean)"
                     PROPERTIES LABELS "lessons" TIMEOUT 300
                     # Alone: its programs time their own steps (stall, slow-callback), and beside
                     # other tests on a 2-core machine under ASan a loop thread was descheduled
                     # long enough to look stalled (3 lessons in one CI run).
                     RUN_SERIAL TRUE
                     ENVIRONMENT "AIO_LESSONS_WORKSPACE=${CMAKE_CURRENT_BINARY_DIR}/test-workspace-verify")

# The fixes of tests/lessons/: every right-* passes as a participant's copy, every wrong-* is
# rejected (verify --variants; built by the lesson_variants target, part of the tests' build).
add_test(NAME "lessons: verify --variants (every right fix passes, every known wrong fix fails)"
         COMMAND aio_lessons_runner --no-build verify --variants)
set_tests_properties("lessons: verify --variants (every right fix passes, every known wrong fix fails)"
                     PROPERTIES LABELS "lessons" TIMEOUT 300 RUN_SERIAL TRUE
                     ENVIRONMENT "AIO_LESSONS_WORKSPACE=${CMAKE_CURRENT_BINARY_DIR}/test-workspace-variants")

# The runner's commands, each in a fresh temporary workspace (test_runner.sh CASE RUNNER).
foreach(case list hint-levels reset reset-keeps-every-version watch-save-during-run
             unknown-name unknown-number solution-locked verify-json no-command
             forbidden-output variants-judged
             watch-status-and-next watch-hint-and-quit watch-line-mode progress-json
             collector-report collector-rejects-bad-input report-collector-down
             stale-program-is-rebuilt verify-retries-timing-findings broken-must-hang
             hang-shows-tasks)
  add_test(NAME "lessons runner: ${case}"
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_runner.sh ${case} $<TARGET_FILE:aio_lessons_runner>)
  set_tests_properties("lessons runner: ${case}" PROPERTIES LABELS "lessons;runner" TIMEOUT 60)
endforeach()

# tools/lessons, the entry script, in a stand-in repository of its own.
add_test(NAME "lessons runner: tools/lessons says it builds only when something is out of date"
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_lessons_script.sh builds)
set_tests_properties("lessons runner: tools/lessons says it builds only when something is out of date"
                     PROPERTIES LABELS "lessons;runner" TIMEOUT 60)
# tools/lessons doctor: on this machine, then with a package, a tool, a compiler faked away.
foreach(case doctor-ready doctor-missing-package doctor-missing-tool doctor-old-compiler)
  add_test(NAME "lessons runner: tools/lessons ${case}"
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_lessons_script.sh ${case})
  set_tests_properties("lessons runner: tools/lessons ${case}" PROPERTIES LABELS "lessons;runner" TIMEOUT 60)
endforeach()

# A hung lesson's tasks, shown by the runner with the real aio tool (tools/inspect, issue 14):
# lesson 24's broken program deadlocks; the tree printed before the kill names the pair.
if(EXISTS ${PROJECT_SOURCE_DIR}/tools/inspect/CMakeLists.txt)
  add_test(NAME "lessons runner: a hung lesson's deadlocked pair is shown (aio pstree)"
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_runner.sh hang-shows-deadlock
                   $<TARGET_FILE:aio_lessons_runner> $<TARGET_FILE:lesson_24_broken>
                   $<TARGET_FILE:aio_inspect>)
  set_tests_properties("lessons runner: a hung lesson's deadlocked pair is shown (aio pstree)"
                       PROPERTIES LABELS "lessons;runner" TIMEOUT 60)
endif()
