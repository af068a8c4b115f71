// "Did you mean ...?" for a mistyped name (a parameter key, an option, a
// subcommand). One rule, which python/virtiosim/config.py's _near() shares
// so that both surfaces suggest the same names: the candidates within
// max(2, length / 3) edits (Levenshtein: insert, delete or replace one
// character) of the word, nearest first, ties in the candidates' order, at
// most three.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace virtiosim {

inline size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t replaced = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({replaced, row[j] + 1, row[j - 1] + 1});
    }
  }
  return row[b.size()];
}

inline std::vector<std::string> near_names(const std::string& word,
                                           const std::vector<std::string>& candidates) {
  const size_t limit = std::max<size_t>(2, word.size() / 3);
  std::vector<std::pair<size_t, std::string>> near;
  for (const std::string& c : candidates)
    if (const size_t d = edit_distance(word, c); d <= limit) near.emplace_back(d, c);
  std::stable_sort(near.begin(), near.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < near.size() && i < 3; ++i) out.push_back(near[i].second);
  return out;
}

// "; did you mean a, b?" or "" when nothing is near.
inline std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  const std::vector<std::string> near = near_names(word, candidates);
  if (near.empty()) return {};
  std::string s = "; did you mean ";
  for (size_t i = 0; i < near.size(); ++i) s += (i ? ", " : "") + near[i];
  return s + "?";
}

}  // namespace virtiosim
