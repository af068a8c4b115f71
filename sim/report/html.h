// The run report as one self-contained HTML page, rendered from the JSON
// report (render.h) and nothing else, so that `virtiosim run --html` and
// `virtiosim report FILE.json --html` give the same page: configuration with
// units, features by name, rates and per-packet costs, a latency histogram
// (SVG), monitor findings linked to their rule's statement, fault effects,
// and a zoomable ring timeline drawn by an inline script. No network: CSS,
// JS and SVG are inline.
#pragma once

#include <string>

#include "support/json_text.h"

namespace virtiosim::sim {

// Throws nlohmann::json::exception when `report` lacks a section or a
// figure has the wrong type.
std::string render_html(const json::Json& report);

// `text` with & < > " ' as character references.
std::string html_escape(const std::string& text);

}  // namespace virtiosim::sim
