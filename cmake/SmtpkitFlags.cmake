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
      # PUBLIC so that programs linking a sanitized smtpkit get the runtime too,
      # but only inside this build tree: an installed package never carries it.
      target_compile_options(${target} PUBLIC
        $<BUILD_INTERFACE:-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all>)
      target_link_options(${target} PUBLIC $<BUILD_INTERFACE:-fsanitize=address,undefined>)
    endif()
  endif()
endfunction()
