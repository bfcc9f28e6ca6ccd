// The JSON writer lives in the public header (the apps write JSON too); core/json.h holds the
// one string escaper it uses.
#pragma once

#include "core/json.h"
#include "sbert/json.h"
