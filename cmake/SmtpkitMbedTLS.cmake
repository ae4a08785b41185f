# Makes the imported targets MbedTLS::mbedtls, MbedTLS::mbedx509 and
# MbedTLS::mbedcrypto exist, the names mbedTLS 3.x's own CMake package uses.
#
# Used twice: by smtpkit's build when SMTPKIT_WITH_MBEDTLS is ON, and, installed
# next to smtpkitConfig.cmake, by every consumer of an installed smtpkit that was
# built with it, so both find the library the same way.
#
# 1. mbedTLS's own package (MbedTLSConfig.cmake, shipped by mbedTLS >= 3.0 and by
#    builds from source), when one is found;
# 2. otherwise find_path/find_library, since some distributions ship none
#    (Debian's libmbedtls-dev 2.28 has headers, libraries and no CMake files).
#    SMTPKIT_MBEDTLS_HINTS (a list of directories) is searched first; the
#    installed config sets it to where smtpkit's build found the libraries.
#
# Sets SmtpkitMbedTLS_FOUND. Creates nothing and sets no variable outside the
# SMTPKIT_/SmtpkitMbedTLS_ prefixes, so it cannot clash with a parent project.
if(TARGET MbedTLS::mbedtls AND TARGET MbedTLS::mbedx509 AND TARGET MbedTLS::mbedcrypto)
  set(SmtpkitMbedTLS_FOUND TRUE)
  return()
endif()

find_package(MbedTLS CONFIG QUIET)
if(TARGET MbedTLS::mbedtls AND TARGET MbedTLS::mbedx509 AND TARGET MbedTLS::mbedcrypto)
  set(SmtpkitMbedTLS_FOUND TRUE)
  return()
endif()

find_path(SMTPKIT_MBEDTLS_INCLUDE_DIR mbedtls/ssl.h
  HINTS ${SMTPKIT_MBEDTLS_HINTS} PATH_SUFFIXES ../include include
  DOC "Directory holding mbedtls/ssl.h")
find_library(SMTPKIT_MBEDTLS_LIBRARY mbedtls HINTS ${SMTPKIT_MBEDTLS_HINTS}
  DOC "The mbedTLS TLS library")
find_library(SMTPKIT_MBEDX509_LIBRARY mbedx509 HINTS ${SMTPKIT_MBEDTLS_HINTS}
  DOC "The mbedTLS X.509 library")
find_library(SMTPKIT_MBEDCRYPTO_LIBRARY mbedcrypto HINTS ${SMTPKIT_MBEDTLS_HINTS}
  DOC "The mbedTLS crypto library")
mark_as_advanced(SMTPKIT_MBEDTLS_INCLUDE_DIR SMTPKIT_MBEDTLS_LIBRARY
  SMTPKIT_MBEDX509_LIBRARY SMTPKIT_MBEDCRYPTO_LIBRARY)

if(SMTPKIT_MBEDTLS_INCLUDE_DIR AND SMTPKIT_MBEDTLS_LIBRARY AND SMTPKIT_MBEDX509_LIBRARY
   AND SMTPKIT_MBEDCRYPTO_LIBRARY)
  # Link order matters for static archives: tls -> x509 -> crypto.
  foreach(_smtpkit_lib mbedcrypto mbedx509 mbedtls)
    if(NOT TARGET MbedTLS::${_smtpkit_lib})
      string(TOUPPER ${_smtpkit_lib} _smtpkit_var)
      add_library(MbedTLS::${_smtpkit_lib} UNKNOWN IMPORTED)
      set_target_properties(MbedTLS::${_smtpkit_lib} PROPERTIES
        IMPORTED_LOCATION "${SMTPKIT_${_smtpkit_var}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${SMTPKIT_MBEDTLS_INCLUDE_DIR}")
    endif()
  endforeach()
  set_property(TARGET MbedTLS::mbedx509 APPEND PROPERTY INTERFACE_LINK_LIBRARIES MbedTLS::mbedcrypto)
  set_property(TARGET MbedTLS::mbedtls APPEND PROPERTY INTERFACE_LINK_LIBRARIES MbedTLS::mbedx509)
  unset(_smtpkit_lib)
  unset(_smtpkit_var)
  set(SmtpkitMbedTLS_FOUND TRUE)
else()
  set(SmtpkitMbedTLS_FOUND FALSE)
endif()
