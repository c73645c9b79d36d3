// ferry's web panel works without JavaScript; this file only adds live
// updates where a page asks for them.
"use strict";
