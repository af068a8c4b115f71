// The JSON text of every output: layout, numbers and strings.
#include <gtest/gtest.h>

#include "support/json_text.h"

namespace virtiosim::json {
namespace {

TEST(JsonText, PrettyNestsTwoSpacesAndKeepsKeyOrder) {
  const Json j = {{"b", 1}, {"a", {{"x", Json::array()}, {"y", Json::object()}, {"z", {true, nullptr}}}}};
  EXPECT_EQ(dump(j), "{\n  \"b\": 1,\n  \"a\": {\n    \"x\": [],\n    \"y\": {},\n    \"z\": [\n      true,\n"
                     "      null\n    ]\n  }\n}");
}

TEST(JsonText, OneLineAndMixed) {
  const Json j = Json::array({{{"k", "v"}, {"n", {1, 2}}}, Json::object()});
  EXPECT_EQ(dump(j, kOneLine), "[{\"k\": \"v\", \"n\": [1, 2]}, {}]");
  EXPECT_EQ(dump(j, 1), "[\n  {\"k\": \"v\", \"n\": [1, 2]},\n  {}\n]");
}

TEST(JsonText, FiguresWholeAsIntegersOthersNineDigits) {
  EXPECT_EQ(dump(figure(3.0)), "3");
  EXPECT_EQ(dump(figure(-2.0)), "-2");
  EXPECT_EQ(dump(figure(0.1)), "0.1");
  EXPECT_EQ(dump(figure(2.0 / 3.0)), "0.666666667");
  EXPECT_EQ(dump(figure(1234567890.5)), "1.23456789e+09");
  EXPECT_EQ(dump(figure(123456789.5)), "123456790");
  EXPECT_EQ(dump(figure(1e15)), "1e+15");
  EXPECT_EQ(dump(figure(1.0 / 0.0)), "null");
  EXPECT_EQ(dump(Json(uint64_t{18446744073709551615ull})), "18446744073709551615");
}

TEST(JsonText, NumberTextKeepsItsText) {
  for (const char* t : {"256", "0", "0.5", "1e+12", "1.123456789", "-0", "-5", "123456789"})
    EXPECT_EQ(dump(number_text(t)), t);
}

TEST(JsonText, QuoteEscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(quote("a\"b\\c\nd\te"), "\"a\\\"b\\\\c\\nd\\u0009e\"");
  EXPECT_EQ(quote("\xc3\xa9"), "\"\xc3\xa9\"");
}

}  // namespace
}  // namespace virtiosim::json
