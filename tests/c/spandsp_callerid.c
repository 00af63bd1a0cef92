/*
 * spandsp as the independent peer of our caller ID (test helper, not part of
 * the product; tests/drivers/test_callerid.py builds it with -lspandsp).
 *
 *   spandsp_callerid gen class|clip HEX   message (type, length, payload; no
 *       checksum: spandsp adds it) as 16-bit 8000 Hz samples on stdout
 *   spandsp_callerid rx class|clip         16-bit samples on stdin; each
 *       message spandsp decodes as one hex line on stdout
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spandsp.h>

static int standard_of(const char *name)
{
    if (strcmp(name, "class") == 0)
        return ADSI_STANDARD_CLASS;
    if (strcmp(name, "clip") == 0)
        return ADSI_STANDARD_CLIP;
    fprintf(stderr, "standard %s: class or clip\n", name);
    exit(2);
}

static void put_msg(void *user_data, const uint8_t *msg, int len)
{
    (void) user_data;
    if (len <= 0)
        return;
    for (int i = 0; i < len; i++)
        printf("%02x", msg[i]);
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s gen class|clip HEX | rx class|clip\n", argv[0]);
        return 2;
    }
    int standard = standard_of(argv[2]);
    if (strcmp(argv[1], "gen") == 0 && argc == 4) {
        uint8_t msg[300];
        int len = 0;
        for (const char *p = argv[3]; p[0] && p[1] && len < 300; p += 2) {
            unsigned v;
            if (sscanf(p, "%2x", &v) != 1)
                return 2;
            msg[len++] = (uint8_t) v;
        }
        adsi_tx_state_t *tx = adsi_tx_init(NULL, standard);
        if (adsi_tx_put_message(tx, msg, len) <= 0) {
            fprintf(stderr, "adsi_tx_put_message refused the message\n");
            return 1;
        }
        int16_t amp[160];
        int n;
        while ((n = adsi_tx(tx, amp, 160)) > 0)
            fwrite(amp, sizeof(int16_t), (size_t) n, stdout);
        adsi_tx_free(tx);
        return 0;
    }
    if (strcmp(argv[1], "rx") == 0) {
        adsi_rx_state_t *rx = adsi_rx_init(NULL, standard, put_msg, NULL);
        int16_t amp[160];
        size_t n;
        while ((n = fread(amp, sizeof(int16_t), 160, stdin)) > 0)
            adsi_rx(rx, amp, (int) n);
        adsi_rx_free(rx);
        return 0;
    }
    fprintf(stderr, "unknown command %s\n", argv[1]);
    return 2;
}
