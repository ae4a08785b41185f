/**
 * @file version.h
 * @brief Compile-time version of the smtpkit headers.
 *
 * CMake reads the version from this file, so it is the single source of truth.
 */
#ifndef SMTPKIT_VERSION_H
#define SMTPKIT_VERSION_H

#define SMTPKIT_VERSION_MAJOR 0 /**< incompatible API/ABI changes */
#define SMTPKIT_VERSION_MINOR 1 /**< compatible additions */
#define SMTPKIT_VERSION_PATCH 0 /**< fixes */
/** The version as a string literal. */
#define SMTPKIT_VERSION_STRING "0.1.0"
/** The version as 0xMMmmpp, for preprocessor comparisons (`#if`). */
#define SMTPKIT_VERSION_NUMBER 0x000100UL

#endif /* SMTPKIT_VERSION_H */
