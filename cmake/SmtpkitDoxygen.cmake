# Builds the API reference with Doxygen and fails on any warning.
#   cmake -DDOXYGEN=/usr/bin/doxygen -DSOURCE_DIR=<smtpkit> -DOUTPUT_DIR=<dir>
#         [-DVERSION=x.y.z] -P cmake/SmtpkitDoxygen.cmake
# Reads docs/Doxyfile and overrides its paths so that everything is written
# under OUTPUT_DIR (never into the source tree). Used by the CTest test
# `docs.doxygen` and the `smtpkit-docs` target.
foreach(_v DOXYGEN SOURCE_DIR OUTPUT_DIR)
  if(NOT DEFINED ${_v} OR "${${_v}}" STREQUAL "")
    message(FATAL_ERROR "SmtpkitDoxygen.cmake: ${_v} not set")
  endif()
endforeach()
if(NOT EXISTS "${DOXYGEN}")
  message(FATAL_ERROR "doxygen not found (install the doxygen package; tests/run.sh does)")
endif()

file(MAKE_DIRECTORY "${OUTPUT_DIR}")
file(READ "${SOURCE_DIR}/docs/Doxyfile" _config)
set(_log "${OUTPUT_DIR}/doxygen-warnings.log")
file(REMOVE "${_log}")
string(APPEND _config "
# ---- set by cmake/SmtpkitDoxygen.cmake
PROJECT_NUMBER         = \"${VERSION}\"
OUTPUT_DIRECTORY       = \"${OUTPUT_DIR}\"
INPUT                  = \"${SOURCE_DIR}/include/smtpkit\" \"${SOURCE_DIR}/docs/reference.md\"
USE_MDFILE_AS_MAINPAGE = \"${SOURCE_DIR}/docs/reference.md\"
STRIP_FROM_PATH        = \"${SOURCE_DIR}/include\" \"${SOURCE_DIR}\"
STRIP_FROM_INC_PATH    = \"${SOURCE_DIR}/include\"
WARN_LOGFILE           = \"${_log}\"
")
file(WRITE "${OUTPUT_DIR}/Doxyfile" "${_config}")

execute_process(COMMAND "${DOXYGEN}" "${OUTPUT_DIR}/Doxyfile"
  WORKING_DIRECTORY "${OUTPUT_DIR}" RESULT_VARIABLE _rc)
set(_warnings "")
if(EXISTS "${_log}")
  file(READ "${_log}" _warnings)
endif()
if(NOT _rc EQUAL 0 OR NOT _warnings STREQUAL "")
  message("${_warnings}")
  string(REGEX MATCHALL "\n/[^:\n]+:[0-9]+:" _lines "\n${_warnings}")
  list(LENGTH _lines _count)
  message(FATAL_ERROR "doxygen: ${_count} warning(s) (exit status ${_rc}); "
    "every public item needs a /** */ comment")
endif()
if(NOT EXISTS "${OUTPUT_DIR}/html/index.html")
  message(FATAL_ERROR "doxygen wrote no ${OUTPUT_DIR}/html/index.html")
endif()
message(STATUS "API reference: ${OUTPUT_DIR}/html/index.html (no warnings)")
