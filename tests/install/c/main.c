#include <isotope/isotope.h>
#include <stdio.h>
int main(void) {
  isotope_key* key = NULL; isotope_watermark* wm = NULL;
  if (isotope_key_generate(&key) != ISOTOPE_OK) return 1;
  if (isotope_watermark_create(key, NULL, 100, &wm) != ISOTOPE_OK) return 2;
  float logits[100] = {0}; int32_t ctx[2] = {1, 2};
  int rc = isotope_watermark_apply(wm, ctx, 2, logits, 100);
  int green = 0; for (int i = 0; i < 100; ++i) green += logits[i] > 0;
  printf("rc=%s green=%d version=%s\n", isotope_error_name(rc), green, isotope_version());
  isotope_watermark_free(wm); isotope_key_free(key);
  return rc;
}
