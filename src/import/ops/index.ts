// Registers every op family. Each file registers its ops on import.
import './unary.js';
import './binary.js';
import './cast.js';
import './reduce.js';
