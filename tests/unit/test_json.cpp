// The one JSON layer (core/json_read.h, sbert/json.h): typed reading with messages that name
// the file, record and field and the type found; writing with escapes, shortest round-trip
// numbers and pretty or compact layout.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "core/json_read.h"
#include "core/json_write.h"
#include "sbert/error.h"

using namespace sbert;
using Catch::Contains;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("json reader: type errors name the file, the record, the field and the type found",
          "[json]") {
  const JsonDocument d = JsonDocument::from_string(
      R"({"dtype": 5, "shape": "x", "ok": true, "n": 2.5, "o": {"a": null}})", "f.json", "t");
  const JsonReader r("t", "f.json");
  const auto o = r.object(d.root(), "");
  CHECK(error_of([&] { r.string(*JsonReader::member(o, "dtype"), "dtype"); }) ==
        "[t] f.json: field 'dtype' must be a string, got 5 (an integer)");
  CHECK(error_of([&] { r.array(*JsonReader::member(o, "shape"), "shape"); }) ==
        "[t] f.json: field 'shape' must be an array, got \"x\" (a string)");
  CHECK(error_of([&] { r.integer(*JsonReader::member(o, "n"), "n", 0, 9); }) ==
        "[t] f.json: field 'n' must be an integer, got 2.5 (a number)");
  CHECK(error_of([&] { r.boolean(*JsonReader::member(o, "n"), "n"); }) ==
        "[t] f.json: field 'n' must be true or false, got 2.5 (a number)");
  const auto inner = r.object(*JsonReader::member(o, "o"), "o");
  CHECK(error_of([&] { r.string(*JsonReader::member(inner, "a"), join_field("o", "a")); }) ==
        "[t] f.json: field 'o.a' must be a string, got null (null)");
  CHECK(error_of([&] { r.number(*JsonReader::member(o, "o"), "o"); }) ==
        "[t] f.json: field 'o' must be a number, got {\"a\":null} (an object)");
  CHECK(error_of([&] { r.array(d.root(), ""); }) ==
        "[t] f.json: the document must be an array, got {\"dtype\":5,\"shape\":\"x\",\"ok\":true,"
        "\"n\":2.5,\"o\":{\"a\":null}} (an object)");
  CHECK(r.boolean(*JsonReader::member(o, "ok"), "ok"));
  CHECK(r.number(*JsonReader::member(o, "dtype"), "dtype") == 5.0);  // integers are numbers
}

TEST_CASE("json reader: missing fields, ranges, defaults and records", "[json]") {
  const JsonDocument d = JsonDocument::from_string(R"({"a": 7, "b": null, "s": "v"})", "f", "t");
  const JsonReader file("t", "g.jsonl");
  const JsonReader r = file.at("line 12");
  const auto o = r.object(d.root(), "");
  CHECK(error_of([&] { r.required(o, "x", "m.x"); }) == "[t] g.jsonl: line 12: m.x is missing");
  CHECK(error_of([&] { r.integer(*JsonReader::member(o, "a"), "a", 0, 5); }) ==
        "[t] g.jsonl: line 12: a must be in [0, 5], got 7");
  CHECK(error_of([&] { r.object(*JsonReader::member(o, "a"), ""); }) ==
        "[t] g.jsonl: line 12: the record must be an object, got 7 (an integer)");
  CHECK(r.integer_or(o, "b", "b", 0, 9, 3) == 3);  // null gives the default
  CHECK(r.integer_or(o, "zz", "zz", 0, 9, 4) == 4);
  CHECK(r.string_or(o, "s", "s", "d") == "v");
  CHECK(r.number_or(o, "b", "b", 0.5) == 0.5);
  CHECK_FALSE(r.boolean_or(o, "zz", "zz", false));
  CHECK(file.at("record 3").where() == "[t] g.jsonl: record 3: ");
}

TEST_CASE("json reader: integers beyond 64 bits read as doubles, bad JSON names the file",
          "[json]") {
  const JsonDocument d = JsonDocument::from_string(
      R"({"m": 1000000000000000019884624838656, "s": "123456789012345678901234"})",
      "tokenizer_config.json", "t");
  const JsonDocument u = JsonDocument::from_string(R"({"u": 18446744073709551615})", "u", "t");
  const JsonReader r("t", "tokenizer_config.json");
  const auto o = r.object(d.root(), "");
  CHECK(r.number(*JsonReader::member(o, "m"), "m") == 1e30);
  CHECK(r.string(*JsonReader::member(o, "s"), "s") == "123456789012345678901234");  // untouched
  CHECK_THAT(error_of([&] { r.integer(*JsonReader::member(r.object(u.root(), ""), "u"), "u", 0, 9); }),
             Contains("u must be in [0, 9], got 18446744073709551615"));
  CHECK_THAT(error_of([&] { JsonDocument::from_string("{\"a\": ", "x.json", "t"); }),
             Contains("[t] x.json: not valid JSON ("));
  CHECK(error_of([&] { JsonDocument::from_file("/nonexistent/y.json", "t"); }) ==
        "[t] /nonexistent/y.json: file not found");
}

TEST_CASE("json writer: escapes control characters and quotes, keeps UTF-8", "[json]") {
  JsonWriter w;
  w.value(std::string("a\"b\\c\n\t\x01\x1f\xc3\xa9\xe2\x82\xac", 14));
  CHECK(w.str() == "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\xc3\xa9\xe2\x82\xac\"");
}

TEST_CASE("json writer: numbers are shortest round-trip, integers stay integers", "[json]") {
  CHECK(json_number(1e-7) == "1e-07");
  CHECK(json_number(0.1) == "0.1");
  CHECK(json_number(-0.0) == "-0");
  CHECK(json_number(1e300) == "1e+300");
  CHECK(json_number(3.0) == "3");
  CHECK(json_number(0.1f) == "0.1");  // the float, not its double widening
  CHECK(json_number(std::nan("")) == "null");
  CHECK(json_number(std::numeric_limits<double>::infinity()) == "null");
  CHECK(json_fraction(3.0) == "3.0");
  CHECK(json_fraction(1e-12) == "1e-12");
  CHECK(json_number(0.1f, 9) == "0.100000001");  // printf's %.9g, as metrics logs write
  for (const double v : {1e-7, 0.1, 1e300, 2.0 / 3.0, -123.456e-200, 4.9e-300}) {
    CHECK(std::stod(json_number(v)) == v);
  }
  JsonWriter w;
  w.begin_array().value(int64_t{-9007199254740993}).value(uint64_t{18446744073709551615u});
  w.value(true).null().end_array();
  CHECK(w.str() == "[-9007199254740993,18446744073709551615,true,null]");
}

TEST_CASE("json writer: compact, pretty and inline layouts", "[json]") {
  auto build = [](JsonWriter& w) {
    w.begin_object().member("a", 1).key("b").begin_array().value("x").value(2.5).end_array();
    w.key("e").begin_object().end_object().key("f").begin_array().end_array();
    w.key("g").begin_object(true).member("h", 1).member("i", false).end_object().end_object();
  };
  JsonWriter compact;
  build(compact);
  CHECK(compact.str() ==
        R"({"a":1,"b":["x",2.5],"e":{},"f":[],"g":{"h": 1, "i": false}})");
  JsonWriter pretty(2);
  build(pretty);
  CHECK(pretty.str() ==
        "{\n  \"a\": 1,\n  \"b\": [\n    \"x\",\n    2.5\n  ],\n  \"e\": {},\n  \"f\": [],\n"
        "  \"g\": {\"h\": 1, \"i\": false}\n}");
  // A parsed document re-emitted: the same layout as Python's json.dump(indent=4).
  const JsonDocument d = JsonDocument::from_string(R"({"x": [1, 2.0, "s"], "y": {}})", "f", "t");
  JsonWriter again(4);
  write_json(again, d.root());
  CHECK(again.str() == "{\n    \"x\": [\n        1,\n        2.0,\n        \"s\"\n    ],\n"
                       "    \"y\": {}\n}");
}

TEST_CASE("json writer: misuse is an error, not bad JSON", "[json]") {
  JsonWriter w;
  w.begin_object();
  CHECK_THAT(error_of([&] { w.value(1); }), Contains("needs a key first"));
  JsonWriter a;
  a.begin_array();
  CHECK_THAT(error_of([&] { a.end_object(); }), Contains("does not close the open container"));
  CHECK_THAT(error_of([&] { a.key("k"); }), Contains("outside an object"));
}
