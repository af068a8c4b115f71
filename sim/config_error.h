// A configuration value that is not accepted; names the key. Thrown by
// every layer that checks parameters (sim/config, sim/faults); the command
// line reports it and exits 2.
#pragma once

#include <stdexcept>
#include <string>

namespace virtiosim::sim {

class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& key, const std::string& what)
      : std::runtime_error(key.empty() ? what : "bad configuration for '" + key + "': " + what), key_(key) {}
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

}  // namespace virtiosim::sim
