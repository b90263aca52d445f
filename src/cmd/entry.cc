// The process entry of the static-PIE sampan binary (linked with -e sampan_entry): it asks the
// kernel to make the copy-on-write copies of the relocated read-only data (PT_GNU_RELRO) in one
// madvise(MADV_POPULATE_WRITE), then jumps to the C library's _start, which applies the
// relocations. Without it, every page the relocation loop writes takes a page fault of its own
// (about 150 of them at every start of this binary: the vtables and pointer tables of OpenSSL
// and of our own code). A short-lived command such as `sampan runtime run` starts ~50 us sooner
// (perf task-clock, 2-vCPU VM).
#include <elf.h>
#include <link.h>

#include <cstdint>

extern "C" {

extern const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));

// Runs before the C library has set anything up and before relocation: position-independent
// code only, no thread pointer (so no stack protector), no library calls, no sanitizer.
__attribute__((used, no_stack_protector, no_sanitize_address)) void sampan_prefault_relro() {
  const char* ehdr = reinterpret_cast<const char*>(&__ehdr_start);
  const auto* ph = reinterpret_cast<const ElfW(Phdr)*>(ehdr + __ehdr_start.e_phoff);
  const int n = __ehdr_start.e_phnum;
  // The load bias: where the segment holding the ELF header (offset 0) was put.
  uintptr_t bias = 0;
  for (int i = 0; i < n; ++i)
    if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0)
      bias = reinterpret_cast<uintptr_t>(ehdr) - ph[i].p_vaddr;
  for (int i = 0; i < n; ++i) {
    if (ph[i].p_type != PT_GNU_RELRO) continue;
    uintptr_t start = (bias + ph[i].p_vaddr) & ~uintptr_t{4095};
    uintptr_t end = bias + ph[i].p_vaddr + ph[i].p_memsz;
    long ret;
    // madvise(start, len, MADV_POPULATE_WRITE = 23): kernels before 5.14 say EINVAL, ignored.
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"(28L), "D"(start), "S"(end - start), "d"(23L)
                     : "rcx", "r11", "memory");
    (void)ret;
  }
}

}  // extern "C"

#if defined(__x86_64__)
// rdx (the dynamic linker's fini function, 0 here) and rsp (argc, argv...) must reach _start
// as the kernel left them; r15 is preserved by the call.
__asm__(
    ".text\n"
    ".globl sampan_entry\n"
    ".type sampan_entry, @function\n"
    "sampan_entry:\n"
    "  endbr64\n"
    "  mov %rdx, %r15\n"
    "  call sampan_prefault_relro\n"
    "  mov %r15, %rdx\n"
    "  jmp _start\n"
    ".size sampan_entry, . - sampan_entry\n");
#endif
