// Umbrella header for libsbert's public API.
#pragma once

#include "sbert/config.h"
#include "sbert/convert.h"
#include "sbert/error.h"
#include "sbert/eval.h"
#include "sbert/json.h"
#include "sbert/mine.h"
#include "sbert/model.h"
#include "sbert/progress.h"
#include "sbert/tokenizer.h"
#include "sbert/train.h"
#include "sbert/util.h"
#include "sbert/version.h"
