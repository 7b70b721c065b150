#include "net/form.h"

#include "core/json_text.h"

#include <unordered_map>

namespace sluice::net {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3 : (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    if (n == 3) {  // no overlongs, no surrogates
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0)) return false;
    } else if (n == 4) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 >= 0x90)) return false;
    }
    i += n;
  }
  return true;
}

std::expected<std::string, std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::unexpected("truncated %-escape at byte " + std::to_string(i));
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::unexpected("bad %-escape at byte " + std::to_string(i));
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  if (!valid_utf8(out)) return std::unexpected("not UTF-8");
  return out;
}

std::string percent_encode(std::string_view s, std::string_view also_keep) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        also_keep.find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::expected<Form, std::string> parse_form(std::string_view body) {
  Form form;
  size_t start = 0;
  while (start <= body.size()) {
    size_t amp = body.find('&', start);
    if (amp == std::string_view::npos) amp = body.size();
    std::string_view pair = body.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;  // "a=1&&b=2" and a trailing '&'
    const size_t eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq), true);
    if (!name) return std::unexpected("field name: " + name.error());
    if (name->empty()) return std::unexpected("a field has an empty name");
    std::string value;
    if (eq != std::string_view::npos) {
      auto v = percent_decode(pair.substr(eq + 1), true);
      if (!v) return std::unexpected("field '" + *name + "': " + v.error());
      value = std::move(*v);
    }
    form.push_back({std::move(*name), std::move(value)});
  }
  return form;
}

std::string encode_form(const Form& form) {
  std::string out;
  for (const auto& f : form) {
    if (!out.empty()) out += '&';
    out += percent_encode(f.name) + "=" + percent_encode(f.value);
  }
  return out;
}

std::string form_to_json(const Form& form) {
  // Each name once, in order of first appearance, with its values in body
  // order. Grouped through a hash map: a hostile body of 100,000 fields must
  // not cost 100,000 squared.
  std::unordered_map<std::string_view, size_t> group_of;
  std::vector<std::vector<const std::string*>> groups;
  std::vector<const std::string*> names;
  size_t size = 2;
  for (const auto& f : form) {
    auto [it, fresh] = group_of.try_emplace(f.name, groups.size());
    if (fresh) {
      groups.emplace_back();
      names.push_back(&f.name);
    }
    groups[it->second].push_back(&f.value);
    size += f.name.size() + f.value.size() + 8;
  }
  std::string out;
  out.reserve(size);
  out += '{';
  for (size_t g = 0; g < groups.size(); ++g) {
    if (g > 0) out += ',';
    core::append_json_string(out, *names[g]);
    out += ':';
    const auto& values = groups[g];
    if (values.size() > 1) out += '[';
    for (size_t k = 0; k < values.size(); ++k) {
      if (k > 0) out += ',';
      core::append_json_string(out, *values[k]);
    }
    if (values.size() > 1) out += ']';
  }
  out += '}';
  return out;
}

}  // namespace sluice::net
