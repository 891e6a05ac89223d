// The audit record parser on every line of any text, and the verifier on the
// whole text as a journal file: parsed records or a named defect, never a
// crash; a journal the verifier accepts has only records the parser accepts.
#include "ordergate/audit/journal.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "fuzz_support.hpp"

namespace {

std::filesystem::path scratch_file() {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("ordergate-audit-fuzz-" + std::to_string(::getpid()) + ".jsonl");
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = ordergate::fuzz::as_text(data, size);
  std::size_t records = 0;
  bool every_line_parses = true;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string error;
    if (ordergate::parse_audit_record(text.substr(start, end - start), &error)) {
      ++records;
    } else {
      every_line_parses = false;
    }
    start = end + 1;
  }
  std::FILE* file = std::fopen(scratch_file().c_str(), "wb");
  if (file == nullptr) return 0;
  const bool written = std::fwrite(data, 1, size, file) == size;
  std::fclose(file);
  if (!written) return 0;
  const std::filesystem::path files[] = {scratch_file()};
  const ordergate::AuditVerifyResult result = ordergate::verify_journal(files);
  if (result.ok()) ORDERGATE_FUZZ_CHECK(every_line_parses);
  (void)records;
  return 0;
}
