// The JSON writer lives in the public header (the apps write JSON too); core/json.h holds the
// one string escaper it uses.
#pragma once

#include <string>

#include "core/json.h"
#include "sbert/json.h"

namespace sbert {

// %.<digits>g, as printf writes it (metrics logs keep 9 significant digits); non-finite -> "null".
std::string json_number(double v, int significant_digits);
// Like json_number but integral values keep ".0" (Python's float repr: 2.0, 1e-12).
std::string json_fraction(double v);
std::string json_fraction(float v);

}  // namespace sbert
