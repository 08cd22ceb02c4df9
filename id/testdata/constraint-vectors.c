/* Prints test vectors of the original i3's constraint functions; see
   constraint-vectors.txt for how it was built. Not part of the Go build. */
#include <stdio.h>
#include <string.h>
#include "i3/i3.h"
#include "i3/i3_trigger.h"

void aeshash_init(void);
void aeshash_l(const unsigned char in[], unsigned char out[]);
void aeshash_r(const unsigned char in[], unsigned char out[]);

static void hex(const char *label, const unsigned char *b, int n) {
  int i;
  printf("%s ", label);
  for (i = 0; i < n; i++) printf("%02x", b[i]);
}

int main(void) {
  unsigned char in[16], out[16];
  ID id; Key key;
  int v, i;
  aeshash_init();
  for (v = 0; v < 4; v++) {
    for (i = 0; i < 16; i++) in[i] = (unsigned char)(v == 0 ? 0 : v == 1 ? 0xff : (i * 17 + v * 29) & 0xff);
    aeshash_l(in, out); hex("h_l", in, 16); hex("", out, 16); printf("\n");
    aeshash_r(in, out); hex("h_r", in, 16); hex("", out, 16); printf("\n");
  }
  for (v = 0; v < 4; v++) {
    for (i = 0; i < 32; i++) id.x[i] = (unsigned char)(v == 0 ? 0 : v == 1 ? 0xff : (i * 37 + v * 11) & 0xff);
    generate_constraint_id(&id, &key, L_CONSTRAINT); hex("H_l", id.x, 32); hex("", key.x, 16); printf("\n");
    generate_constraint_id(&id, &key, R_CONSTRAINT); hex("H_r", id.x, 32); hex("", key.x, 16); printf("\n");
  }
  return 0;
}

/* stubs.c, compiled with it: */
// /* Stubs for what i3_trigger.c links against but generate_constraint_id never calls. */
// #include <stdlib.h>
// #define STUB(name) void name(void) { abort(); }
// STUB(addr_equal) STUB(check_i3_addr) STUB(compute_nonce) STUB(duplicate_i3_addr)
// STUB(free_i3_addr) STUB(get_i3_addr_len) STUB(get_id_type) STUB(pack_i3_addr)
// STUB(printf_i3_addr) STUB(printf_i3_id) STUB(unpack_i3_addr)
