/* Identifier grammar; contract in ident_grammar.h. */
#include "common/ident_grammar.h"

/* Not isalnum(): that one follows the locale. */
bool ident_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

bool ident_valid(const char *s, size_t len)
{
	size_t i;

	if (!s || len == 0 || len > IDENT_MAX)
		return false;
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (i = 0; i < len; i++)
		if (!ident_char((unsigned char)s[i]))
			return false;
	return true;
}
