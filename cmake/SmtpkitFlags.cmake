# Warning and sanitizer flags, applied per target (never globally, so a parent
# project that vendors smtpkit keeps its own flags).
function(smtpkit_set_warnings target)
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
      -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wcast-qual)
    if(SMTPKIT_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
    if(SMTPKIT_SANITIZE)
      target_compile_options(${target} PUBLIC -fsanitize=address,undefined -fno-omit-frame-pointer
        -fno-sanitize-recover=all)
      target_link_options(${target} PUBLIC -fsanitize=address,undefined)
    endif()
  endif()
endfunction()
