/*
 * say.h — one line on stderr for the analyzer's and the runner's messages. What a message
 * names (a path, a traced program's name, a line of a rules file) may hold any byte, so
 * control characters are shown as '?': the message stays one line and cannot drive the
 * terminal.
 */
#ifndef MW_SAY_H
#define MW_SAY_H

/* printf-style; a newline at the end of fmt is optional (one is always written). */
void mw_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* MW_SAY_H */
