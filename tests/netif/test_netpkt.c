/* netpkt (core/netif): checksums over fragments of every alignment (odd
 * lengths, a last fragment of one byte), TCP and UDP over IPv4 and IPv6,
 * fill / partial / verify, software TCP segmentation, and malformed
 * frames refused without a read outside the frame (under ASan). */
#include <stdlib.h>

#include "gp_frames.h"
#include "gp_test.h"
#include "gplpv/errors.h"
#include "gplpv/netpkt.h"

/* Split a linear frame into fragments by a layout rule. */
static unsigned split(uint8_t *f, uint32_t len, int layout, struct netpkt_frag *out,
                      unsigned max)
{
    unsigned n = 0;
    uint32_t off = 0;
    while (off < len && n < max - 1) {
        uint32_t k;
        switch (layout) {
        case 0: k = len; break;                          /* one piece */
        case 1: k = 1; break;                            /* bytes */
        case 2: k = (n % 3) * 2 + 1; break;              /* 1, 3, 5, 1, ... */
        case 3: k = len - off > 1 ? len - off - 1 : 1; break;   /* last piece one byte */
        default: k = 7 + (n * 37) % 61; break;           /* odd mixture */
        }
        if (k > len - off)
            k = len - off;
        out[n].va = f + off;
        out[n].len = k;
        off += k;
        n++;
    }
    if (off < len) {
        out[n].va = f + off;
        out[n].len = len - off;
        n++;
    }
    return n;
}

static void test_csum_fill_matches_reference_any_layout(void)
{
    static uint8_t ref[2000], f[2000];
    static struct netpkt_frag frags[2100];
    uint32_t sizes[] = { 0, 1, 2, 3, 17, 1000, 1001, 1459 };
    for (int ipv = 4; ipv <= 6; ipv += 2)
        for (int proto = 6; proto <= 17; proto += 11)
            for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
                for (int layout = 0; layout < 5; layout++) {
                    uint32_t len = fr_build(ref, ipv, proto, sizes[s], s, FR_CSUM_FULL, 7);
                    fr_build(f, ipv, proto, sizes[s], s, FR_CSUM_ZERO, 7);
                    unsigned n = split(f, len, layout, frags, 2100);
                    struct netpkt_info pi;
                    REQUIRE(netpkt_parse(frags, n, len, &pi) == 0);
                    CHECK_EQ(pi.l3, ipv);
                    CHECK_EQ(pi.l4, proto);
                    CHECK_EQ(netpkt_csum_fill(frags, n, &pi), 0);
                    CHECK(memcmp(f, ref, len) == 0);
                    bool ok = false;
                    CHECK_EQ(netpkt_csum_verify(frags, n, &pi, &ok), 0);
                    CHECK(ok);
                    f[len - 1] ^= 0x40;          /* a damaged last byte is noticed */
                    if (sizes[s]) {
                        CHECK_EQ(netpkt_csum_verify(frags, n, &pi, &ok), 0);
                        CHECK(!ok);
                    }
                }
}

static void test_partial_csum_is_the_pseudo_header(void)
{
    static uint8_t ref[1600], f[1600];
    for (int ipv = 4; ipv <= 6; ipv += 2) {
        uint32_t len = fr_build(ref, ipv, 6, 999, 3, FR_CSUM_PSEUDO, 1);
        fr_build(f, ipv, 6, 999, 3, FR_CSUM_ZERO, 1);
        struct netpkt_frag fr = { f, len };
        struct netpkt_info pi;
        REQUIRE(netpkt_parse(&fr, 1, len, &pi) == 0);
        CHECK_EQ(netpkt_csum_partial(&fr, 1, &pi), 0);
        CHECK(memcmp(f, ref, len) == 0);
        /* and a peer finishing it (sum from the L4 header on) gets it right */
        uint32_t l4 = 14 + fr_l3_len(ipv), co = fr_csum_off(ipv, 6);
        uint16_t c = (uint16_t)~fr_fold(fr_sum(f + l4, len - l4, 0));
        f[co] = (uint8_t)(c >> 8), f[co + 1] = (uint8_t)c;
        CHECK(fr_csum_ok(f, len, ipv, 6));
    }
}

static void test_gso_segments_are_valid_and_complete(void)
{
    uint8_t *big = malloc(70000), *seg = malloc(70000), *joined = malloc(70000);
    for (int ipv = 4; ipv <= 6; ipv += 2) {
        uint32_t payload = 65535 - fr_l3_len(ipv) - 20 - (ipv == 6 ? 0 : 0) - 100;
        uint32_t len = fr_build(big, ipv, 6, payload, 5, FR_CSUM_PSEUDO, 1000);
        big[14 + fr_l3_len(ipv) + 13] |= 0x01;                /* FIN on the big frame */
        struct netpkt_frag frags[64];
        unsigned n = split(big, len, 4, frags, 64);
        struct netpkt_info pi;
        REQUIRE(netpkt_parse(frags, n, len, &pi) == 0);
        unsigned count = 0;
        REQUIRE(netpkt_gso_count(&pi, 1448, &count) == 0);
        CHECK_EQ(count, (payload + 1447) / 1448);
        uint32_t hl = fr_hdr_len(ipv, 6), got = 0;
        bool all_ok = true;
        for (unsigned i = 0; i < count; i++) {
            uint32_t sl = 0;
            REQUIRE(netpkt_gso_segment(frags, n, &pi, 1448, i, seg, 70000, &sl) == 0);
            uint8_t *ip = seg + 14, *tcp = seg + 14 + fr_l3_len(ipv);
            all_ok &= fr_csum_ok(seg, sl, ipv, 6);
            if (ipv == 4) {
                all_ok &= (uint32_t)(ip[2] << 8 | ip[3]) == sl - 14;
                all_ok &= fr_fold(fr_sum(ip, 20, 0)) == 0xffff;
                all_ok &= (uint16_t)(ip[4] << 8 | ip[5]) == (uint16_t)(0x1234 + i);
            } else {
                all_ok &= (uint32_t)(ip[4] << 8 | ip[5]) == sl - 14 - 40;
            }
            uint32_t seq = (uint32_t)tcp[4] << 24 | tcp[5] << 16 | tcp[6] << 8 | tcp[7];
            all_ok &= seq == 1000 + got;
            bool last = i + 1 == count;
            all_ok &= ((tcp[13] & 0x09) != 0) == last;        /* FIN, PSH only at the end */
            memcpy(joined + got, seg + hl, sl - hl);
            got += sl - hl;
        }
        CHECK(all_ok);
        CHECK_EQ(got, payload);
        CHECK(memcmp(joined, big + hl, payload) == 0);
        uint32_t sl;
        CHECK_EQ(netpkt_gso_segment(frags, n, &pi, 1448, count, seg, 70000, &sl), GP_EINVAL);
        CHECK_EQ(netpkt_gso_segment(frags, n, &pi, 1448, 0, seg, 100, &sl), GP_ENOSPC);
    }
    free(big);
    free(seg);
    free(joined);
}

static void test_malformed_frames_refused(void)
{
    uint8_t f[200];
    struct netpkt_frag fr = { f, 0 };
    struct netpkt_info pi;
    uint32_t len = fr_build(f, 4, 6, 20, 1, FR_CSUM_FULL, 1);
    fr.len = len;
    CHECK_EQ(netpkt_parse(&fr, 1, 10, &pi), GP_EINVAL);       /* shorter than Ethernet */
    CHECK_EQ(netpkt_parse(&fr, 1, len + 50, &pi), GP_EINVAL); /* fragments hold less */
    f[14] = 0x44;                                            /* IHL 4 */
    CHECK_EQ(netpkt_parse(&fr, 1, len, &pi), GP_EINVAL);
    fr_build(f, 4, 6, 20, 1, FR_CSUM_FULL, 1);
    f[16] = 0x10;                                            /* total length past the frame */
    CHECK_EQ(netpkt_parse(&fr, 1, len, &pi), GP_EINVAL);
    fr_build(f, 4, 6, 20, 1, FR_CSUM_FULL, 1);
    f[14 + 20 + 12] = 0x40;                                  /* TCP data offset 16 < 20 */
    CHECK_EQ(netpkt_parse(&fr, 1, len, &pi), GP_EINVAL);
    f[14 + 20 + 12] = 0xf0;                                  /* 60 > TCP length */
    CHECK_EQ(netpkt_parse(&fr, 1, len, &pi), GP_EINVAL);
    len = fr_build(f, 6, 17, 20, 1, FR_CSUM_FULL, 1);
    fr.len = len;
    f[18] = 0x7f;                                            /* IPv6 payload past the frame */
    CHECK_EQ(netpkt_parse(&fr, 1, len, &pi), GP_EINVAL);
    fr_build(f, 6, 17, 20, 1, FR_CSUM_FULL, 1);
    f[14 + 6] = 60;                                          /* dest options running off */
    f[14 + 40 + 1] = 200;
    CHECK_EQ(netpkt_parse(&fr, 1, len, &pi), GP_EINVAL);
    len = fr_build(f, 4, 17, 20, 1, FR_CSUM_FULL, 1);
    f[14 + 20 + 5] = 4;                                      /* UDP length 4 < 8 */
    CHECK_EQ(netpkt_parse(&fr, 1, len, &pi), GP_EINVAL);
    /* not IP at all: fine, nothing to do, and no checksum to fill */
    f[12] = 0x88, f[13] = 0xb5;
    CHECK_EQ(netpkt_parse(&fr, 1, len, &pi), 0);
    CHECK_EQ(pi.l3, 0);
    CHECK_EQ(netpkt_csum_fill(&fr, 1, &pi), GP_EINVAL);
    /* random bytes: refused or parsed, never a read past them (ASan) */
    srand(1);
    for (int i = 0; i < 20000; i++) {
        uint32_t l = (uint32_t)(rand() % 120);
        uint8_t *r = malloc(l ? l : 1);
        for (uint32_t k = 0; k < l; k++)
            r[k] = (uint8_t)rand();
        if (l > 14 && (i & 1))
            r[12] = 0x08, r[13] = 0x00, r[14] = (uint8_t)(0x45 + (i & 3));
        if (l > 13 && (i & 2))
            r[12] = 0x86, r[13] = 0xdd;
        struct netpkt_frag rf = { r, l };
        if (netpkt_parse(&rf, 1, l, &pi) == 0) {
            bool ok;
            netpkt_csum_verify(&rf, 1, &pi, &ok);
            netpkt_csum_fill(&rf, 1, &pi);
        }
        free(r);
    }
}

int main(void)
{
    GP_TEST_RUN(test_csum_fill_matches_reference_any_layout);
    GP_TEST_RUN(test_partial_csum_is_the_pseudo_header);
    GP_TEST_RUN(test_gso_segments_are_valid_and_complete);
    GP_TEST_RUN(test_malformed_frames_refused);
    return gp_test_finish();
}
