// graphops demo shape: unit plate with one rectangular corner cut-out and a circular hole.
// A shape the BENO demo model never sees in training (it trains on rectangular cut-outs only).
SetFactory("OpenCASCADE");
Rectangle(1) = {0, 0, 0, 1, 1};
Rectangle(2) = {0.7, 0.7, 0, 0.3, 0.3};
Disk(3) = {0.4, 0.4, 0, 0.15, 0.15};
BooleanDifference(4) = { Surface{1}; Delete; }{ Surface{2, 3}; Delete; };
Physical Surface("plate") = {4};
Physical Curve("boundary") = Boundary{ Surface{4}; };
Mesh.MeshSizeMax = 0.04;
