/*
 * Reference harness (not part of the product): MFC R2 tones from spandsp's
 * r2_mf_tx, written as raw 16-bit signed little-endian 8 kHz samples on
 * stdout, to check that our receiver decodes a generator we did not write.
 * Built by tests/drivers/test_mfc.py with -lspandsp; not a test_*.c harness.
 * Usage: spandsp_r2mf fwd|bwd DIGITS   (DIGITS of "1234567890BCDEF", as
 * r2_mf_tx_put takes them: '0' is signal 10, B..F signals 11..15); each
 * signal 100 ms, then 100 ms of silence.
 */
#include <stdio.h>
#include <string.h>
#include <inttypes.h>
#include <spandsp.h>

int main(int argc, char **argv)
{
    int16_t amp[800];
    r2_mf_tx_state_t *s;
    const char *p;

    if (argc != 3)
        return 2;
    s = r2_mf_tx_init(NULL, strcmp(argv[1], "fwd") == 0);
    if (s == NULL)
        return 1;
    memset(amp, 0, sizeof(amp));
    fwrite(amp, 2, 400, stdout);
    for (p = argv[2]; *p; p++)
    {
        int n;

        r2_mf_tx_put(s, *p);
        n = r2_mf_tx(s, amp, 800);
        fwrite(amp, 2, (size_t) n, stdout);
        r2_mf_tx_put(s, 0);
        memset(amp, 0, sizeof(amp));
        fwrite(amp, 2, 800, stdout);
    }
    r2_mf_tx_free(s);
    return 0;
}
