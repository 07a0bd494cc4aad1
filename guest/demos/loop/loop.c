/* loop: prints one line, then spins forever (for stop / resume / destroy tests). */
#include <stdio.h>
#include "eapp.h"
#include "print.h"

volatile unsigned long loop_counter;

int EAPP_ENTRY main(void)
{
	printf("loop: spinning\n");
	for (;;)
		loop_counter++;
	return 0;
}
