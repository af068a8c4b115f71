// A small JSON writer for reports: objects, arrays, numbers, strings.
// Numbers are printed with enough digits to round-trip and the same way on
// every run, so identical runs give byte-identical reports.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace virtiosim::sim {

class JsonWriter {
 public:
  JsonWriter& begin_object(const char* key = nullptr);
  JsonWriter& end_object();
  JsonWriter& begin_array(const char* key = nullptr);
  JsonWriter& end_array();
  JsonWriter& value(const char* key, double v);
  JsonWriter& value(const char* key, uint64_t v);
  JsonWriter& value(const char* key, const std::string& v);
  JsonWriter& value(const char* key, const char* v) { return value(key, std::string(v)); }
  JsonWriter& value(const char* key, bool v);
  JsonWriter& raw(const char* key, const std::string& json);  // an already-encoded value
  const std::string& str() const { return out_; }

  static std::string quote(const std::string& s);
  static std::string number(double v);

 private:
  void key(const char* k);
  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written yet
};

}  // namespace virtiosim::sim
