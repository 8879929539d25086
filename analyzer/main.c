/*
 * main.c — memwatch-analyze: the thin program around the analyzer library (analyzer.h).
 */
#include "analyzer.h"

int main(int argc, char **argv) { return mw_analyze_cli(argc, argv); }
