// Umbrella header for libsbert's public API.
#pragma once

#include "sbert/config.h"
#include "sbert/error.h"
#include "sbert/model.h"
#include "sbert/tokenizer.h"
