/*
 * own_zstd.c — a library named libzstd.so.1 that is not zstd: what a program that bundles
 * its own copy (older, newer, patched) brings along, found through its RPATH. It has none of
 * the functions the shim's compressor uses, and one of its own (tests/victims/own_zstd_app.c).
 */
int ZSTD_bundled_only(void) { return 42; }
