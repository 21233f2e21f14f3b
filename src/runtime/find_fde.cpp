// The frame lookup of C++ exceptions in the static binary, made cheap.
//
// A `-static` link gets GCC's crtbeginT.o, which registers the whole .eh_frame section
// with libgcc's unwinder at start-up. The first exception thrown then makes libgcc
// decode and sort every FDE of the binary (tens of thousands) before it can find one:
// about 63 million instructions, 10+ ms, paid by every `bch` run that throws once — a
// usage error, an unreachable relay in the prompt hook. Dynamic binaries never pay it:
// they find FDEs through the binary search table the linker writes (PT_GNU_EH_FRAME,
// `.eh_frame_hdr`).
//
// This file gives the static binary that path. It defines `_Unwind_Find_FDE`, the one
// function libgcc's unwinder calls to find the FDE of a code address; being linked
// before libgcc_eh.a, it is the one used, and libgcc's registry (unwind-dw2-fde-dip.o)
// is not linked at all, so crtbeginT's weak call to __register_frame_info registers
// nothing. The lookup: dl_iterate_phdr (static glibc reports the program itself) finds
// the object whose PT_LOAD holds the address and its PT_GNU_EH_FRAME (linked with
// --eh-frame-hdr); a binary search of the header's table finds the last FDE starting at
// or before the address; that FDE's own range, decoded with its CIE's pointer encoding,
// must hold the address. What the linker writes is all that is decoded; anything else
// (an old header version, another table encoding) answers "no FDE", which the unwinder
// handles as it would a frame without unwind information.
//
// Compiled into static executables only (BCH_STATIC); every test of `make test` runs on
// it, since every error path of the CLI throws.

#include <link.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace {

// DWARF pointer encodings (the DW_EH_PE_* constants of the LSB).
constexpr std::uint8_t k_absptr = 0x00;
constexpr std::uint8_t k_uleb128 = 0x01;
constexpr std::uint8_t k_udata2 = 0x02;
constexpr std::uint8_t k_udata4 = 0x03;
constexpr std::uint8_t k_udata8 = 0x04;
constexpr std::uint8_t k_sleb128 = 0x09;
constexpr std::uint8_t k_sdata2 = 0x0a;
constexpr std::uint8_t k_sdata4 = 0x0b;
constexpr std::uint8_t k_sdata8 = 0x0c;
constexpr std::uint8_t k_pcrel = 0x10;
constexpr std::uint8_t k_datarel = 0x30;
constexpr std::uint8_t k_indirect = 0x80;
constexpr std::uint8_t k_omit = 0xff;

template <typename T>
T load(const std::uint8_t*& p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  p += sizeof value;
  return value;
}

// A LEB128 number's bits at `p` (advanced past it); `shift` ends as the number of bits
// read and `last` as the final byte, which a signed reader needs.
std::uintptr_t read_leb(const std::uint8_t*& p, unsigned& shift, std::uint8_t& last) {
  std::uintptr_t value = 0;
  shift = 0;
  do {
    last = *p++;
    if (shift < 8 * sizeof value) {
      value |= static_cast<std::uintptr_t>(last & 0x7f) << shift;
    }
    shift += 7;
  } while ((last & 0x80) != 0);
  return value;
}

std::uintptr_t read_uleb(const std::uint8_t*& p) {
  unsigned shift = 0;
  std::uint8_t last = 0;
  return read_leb(p, shift, last);
}

std::intptr_t read_sleb(const std::uint8_t*& p) {
  unsigned shift = 0;
  std::uint8_t last = 0;
  std::uintptr_t value = read_leb(p, shift, last);
  if (shift < 8 * sizeof value && (last & 0x40) != 0) {
    value |= ~std::uintptr_t{0} << shift;  // sign-extend
  }
  return static_cast<std::intptr_t>(value);
}

// Reads a value in encoding `encoding` at `p` (advanced past it). `datarel` is the base
// of data-relative values. False for an encoding not handled here.
bool read_encoded(const std::uint8_t*& p,
                  std::uint8_t encoding,
                  std::uintptr_t datarel,
                  std::uintptr_t& out) {
  if (encoding == k_omit) {
    return false;
  }
  const std::uint8_t* field = p;
  std::uintptr_t value = 0;
  switch (encoding & 0x0f) {
    case k_absptr:
      value = load<std::uintptr_t>(p);
      break;
    case k_uleb128:
      value = read_uleb(p);
      break;
    case k_udata2:
      value = load<std::uint16_t>(p);
      break;
    case k_udata4:
      value = load<std::uint32_t>(p);
      break;
    case k_udata8:
      value = static_cast<std::uintptr_t>(load<std::uint64_t>(p));
      break;
    case k_sleb128:
      value = static_cast<std::uintptr_t>(read_sleb(p));
      break;
    case k_sdata2:
      value = static_cast<std::uintptr_t>(static_cast<std::intptr_t>(load<std::int16_t>(p)));
      break;
    case k_sdata4:
      value = static_cast<std::uintptr_t>(static_cast<std::intptr_t>(load<std::int32_t>(p)));
      break;
    case k_sdata8:
      value = static_cast<std::uintptr_t>(load<std::int64_t>(p));
      break;
    default:
      return false;
  }
  switch (encoding & 0x70) {
    case 0:
      break;
    case k_pcrel:
      value += reinterpret_cast<std::uintptr_t>(field);
      break;
    case k_datarel:
      value += datarel;
      break;
    default:
      return false;
  }
  if ((encoding & k_indirect) != 0) {
    std::memcpy(&value, reinterpret_cast<const void*>(value), sizeof value);
  }
  out = value;
  return true;
}

// How the FDE's addresses are encoded: its CIE's 'R' augmentation (absolute without one).
bool fde_encoding(const std::uint8_t* fde, std::uint8_t& encoding) {
  const std::uint8_t* p = fde + 4;  // past the length (32-bit: the linker's output)
  const std::uint8_t* field = p;
  auto cie_offset = load<std::int32_t>(p);
  const std::uint8_t* q = field - cie_offset;
  if (load<std::uint32_t>(q) == 0xffffffffU) {
    return false;  // a 64-bit CIE
  }
  q += 4;  // the CIE id
  std::uint8_t version = *q++;
  const char* augmentation = reinterpret_cast<const char*>(q);
  q += std::strlen(augmentation) + 1;
  (void)read_uleb(q);  // code alignment
  (void)read_sleb(q);  // data alignment
  if (version == 1) {
    ++q;  // the return address register
  } else {
    (void)read_uleb(q);
  }
  encoding = k_absptr;
  if (augmentation[0] != 'z') {
    return augmentation[0] == '\0';
  }
  (void)read_uleb(q);  // the augmentation data's length
  for (const char* a = augmentation + 1; *a != '\0'; ++a) {
    switch (*a) {
      case 'R':
        encoding = *q++;
        return true;
      case 'L':
        ++q;
        break;
      case 'P': {
        std::uint8_t personality = *q++;
        std::uintptr_t ignored = 0;
        // Only stepped over: never followed, so never dereferenced.
        if (!read_encoded(q, static_cast<std::uint8_t>(personality & ~k_indirect), 0, ignored)) {
          return false;
        }
        break;
      }
      case 'S':
      case 'B':
        break;
      default:
        return false;
    }
  }
  return true;
}

struct Search {
  std::uintptr_t pc;
  const std::uint8_t* header = nullptr;
};

int find_header(dl_phdr_info* info, std::size_t, void* data) {
  auto* search = static_cast<Search*>(data);
  const ElfW(Phdr)* eh_frame = nullptr;
  bool holds_pc = false;
  for (std::size_t i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type == PT_LOAD) {
      std::uintptr_t start = info->dlpi_addr + segment.p_vaddr;
      holds_pc = holds_pc || (search->pc >= start && search->pc - start < segment.p_memsz);
    } else if (segment.p_type == PT_GNU_EH_FRAME) {
      eh_frame = &segment;
    }
  }
  if (!holds_pc) {
    return 0;
  }
  if (eh_frame != nullptr) {
    search->header = reinterpret_cast<const std::uint8_t*>(info->dlpi_addr + eh_frame->p_vaddr);
  }
  return 1;
}

}  // namespace

// libgcc's own declaration (unwind-dw2-fde.h); the FDE is returned as an opaque pointer.
struct dwarf_eh_bases {
  void* tbase;
  void* dbase;
  void* func;
};

extern "C" const void* _Unwind_Find_FDE(void* pc, dwarf_eh_bases* bases) {
  Search search{reinterpret_cast<std::uintptr_t>(pc)};
  if (::dl_iterate_phdr(find_header, &search) == 0 || search.header == nullptr) {
    return nullptr;
  }
  const std::uint8_t* header = search.header;
  auto base = reinterpret_cast<std::uintptr_t>(header);
  if (header[0] != 1) {
    return nullptr;
  }
  std::uint8_t frame_encoding = header[1];
  std::uint8_t count_encoding = header[2];
  std::uint8_t table_encoding = header[3];
  const std::uint8_t* p = header + 4;
  std::uintptr_t eh_frame = 0;
  std::uintptr_t count = 0;
  if (!read_encoded(p, frame_encoding, base, eh_frame)
      || !read_encoded(p, count_encoding, base, count) || table_encoding != (k_datarel | k_sdata4)
      || count == 0) {
    return nullptr;
  }
  // Entries of (start address, FDE address), both relative to the header, sorted.
  auto entry = [&](std::size_t i, std::size_t field) {
    const std::uint8_t* at = p + 8 * i + 4 * field;
    return base + static_cast<std::uintptr_t>(static_cast<std::intptr_t>(load<std::int32_t>(at)));
  };
  std::size_t low = 0;
  std::size_t high = count;
  while (low < high) {
    std::size_t middle = low + (high - low) / 2;
    if (entry(middle, 0) <= search.pc) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  if (low == 0) {
    return nullptr;
  }
  const auto* fde = reinterpret_cast<const std::uint8_t*>(entry(low - 1, 1));
  std::uint8_t encoding = 0;
  if (!fde_encoding(fde, encoding)) {
    return nullptr;
  }
  const std::uint8_t* q = fde + 8;
  std::uintptr_t begin = 0;
  std::uintptr_t range = 0;
  if (!read_encoded(q, encoding, 0, begin)
      || !read_encoded(q, static_cast<std::uint8_t>(encoding & 0x0f), 0, range) || search.pc < begin
      || search.pc - begin >= range) {
    return nullptr;
  }
  bases->tbase = nullptr;
  bases->dbase = nullptr;
  bases->func = reinterpret_cast<void*>(begin);
  return fde;
}
