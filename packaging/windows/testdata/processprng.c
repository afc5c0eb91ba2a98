/*
 * TEST FIXTURE ONLY, never shipped: a stand-in bcryptprimitives.dll for
 * Wine 8, which lacks ProcessPrng. The Go 1.24+ runtime calls it at
 * start-up for its random numbers; without it playmark.exe stops with
 * "bcryptprimitives.dll not found". Real Windows 10 and later have it.
 * .ci/test-windows builds it with mingw and puts it in the Wine prefix's
 * system32.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom */

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
