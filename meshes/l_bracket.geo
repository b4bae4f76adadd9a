// graphops demo shape: an L-shaped bracket in the unit square with a bolt hole.
SetFactory("OpenCASCADE");
Rectangle(1) = {0, 0, 0, 1, 1};
Rectangle(2) = {0.45, 0.45, 0, 0.55, 0.55};
Disk(3) = {0.22, 0.22, 0, 0.08, 0.08};
BooleanDifference(4) = { Surface{1}; Delete; }{ Surface{2, 3}; Delete; };
Physical Surface("bracket") = {4};
Mesh.MeshSizeMax = 0.04;
