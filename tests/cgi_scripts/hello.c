/* A compiled CGI program, as old cgi-bins hold. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    const char *query = getenv("QUERY_STRING");
    printf("Content-Type: text/plain\r\n\r\nhello from C, query=%s\n", query ? query : "(none)");
    return 0;
}
