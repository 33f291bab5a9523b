#pragma once
// Small helpers shared by the tests.
#include <gtest/gtest.h>

#include <string>

// Expects `stmt` to throw repflow::Error whose message contains `fragment`.
#define EXPECT_ERROR_CONTAINS(stmt, fragment)                                        \
  do {                                                                               \
    try {                                                                            \
      stmt;                                                                          \
      ADD_FAILURE() << "expected an Error containing '" << (fragment) << "'";        \
    } catch (const ::repflow::Error& e) {                                            \
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what(); \
    }                                                                                \
  } while (0)
