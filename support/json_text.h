// JSON documents are built with nlohmann-json (ordered: keys stay in the
// order they were added) and written as text here, the way every virtiosim
// output has always looked, so identical runs give byte-identical files:
// two-space indentation, "key": value, numbers that read back exactly.
#pragma once

#include <climits>
#include <string>

#include <nlohmann/json.hpp>

namespace virtiosim::json {

using Json = nlohmann::ordered_json;

// A measured figure: a whole value (below 1e15) as an integer, a non-finite
// one as null, any other with 9 significant digits.
Json figure(double v);

// A number given as text ("256", "0.5", "1e+12"), kept as that text writes.
Json number_text(const std::string& text);

// `j` as text: containers nested less than `pretty_depth` deep one member a
// line, indented by two spaces a level; deeper ones on one line as
// {"a": 1, "b": [2, 3]}. No newline at the end.
constexpr int kPretty = INT_MAX;
constexpr int kOneLine = 0;
std::string dump(const Json& j, int pretty_depth = kPretty);

// A JSON string literal: quote and backslash escaped, newline as \n, other
// control characters as \u00XX, every other byte as it is.
std::string quote(const std::string& s);

// nlohmann's name of the type of `j` ("string", "number", "object", ...).
inline std::string type_name(const Json& j) { return j.type_name(); }

}  // namespace virtiosim::json
