/*
 * A stand-in for Windows' bcryptprimitives.dll, for the Wine run in
 * .ci/wine-scenario.sh only; nothing ships it.
 *
 * Rust's standard library imports ProcessPrng from bcryptprimitives.dll,
 * which Windows 10 and later have and Wine 8 lacks, so without it no Rust
 * program starts under Wine 8. This one fills the buffer from RtlGenRandom
 * (SystemFunction036 in advapi32), which Wine does have. RtlGenRandom takes
 * a 32-bit length, so a larger buffer is filled in pieces.
 *
 * Built with: x86_64-w64-mingw32-gcc -shared -o bcryptprimitives.dll
 *             bcryptprimitives.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG piece = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, piece)) {
            return FALSE;
        }
        data += piece;
        length -= piece;
    }
    return TRUE;
}
