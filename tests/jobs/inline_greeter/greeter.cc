// The only code of librayk_test_greeter.so: the registration of the inline
// functions of greeter.h.
#include "greeter.h"

using namespace greeter;  // RAYK_REMOTE names functions as written here
RAYK_REMOTE(Hello, Greeter::Create, &Greeter::Greet);
