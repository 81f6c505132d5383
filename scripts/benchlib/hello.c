/* The compiled CGI script of `scripts/bench host`: a fixed hello response. */
#include <unistd.h>

int main(void)
{
    static const char out[] = "Content-Type: text/plain\r\n\r\nHello, world!\n";
    return write(1, out, sizeof out - 1) == sizeof out - 1 ? 0 : 1;
}
