#pragma once
// Serializes a Boost.JSON value the way our clients read it best: numbers as plain
// decimals ("12.3", "100.0", "0.01"), never "1.23E1" as Boost.JSON 1.81 writes them.

#include <string>

#include <boost/json/value.hpp>

namespace jobstate::api {

std::string WriteJson(const boost::json::value& v);
void AppendJson(std::string& out, const boost::json::value& v);

}  // namespace jobstate::api
